package bundle

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Head is what the first members of a bundle hold: the manifest and its
// signatures.
type Head struct {
	Manifest *Manifest
	// Raw is MANIFEST.json as carried: the message the signatures sign.
	Raw        []byte
	Signatures Signatures
}

// ReadHead reads only the first members of a bundle — MANIFEST.json and
// the signatures that follow it — and parses the manifest. It decompresses
// no further than the header of the member after the signatures, so it
// takes about as long on a bundle of gigabytes as on a small one. It checks
// nothing but the manifest's own validity: the caller verifies the
// signatures (a trust policy) if it relies on the manifest, and only Read
// checks the members against it.
func ReadHead(r io.Reader) (*Head, error) {
	head, err := readFrameHeader(r)
	if err != nil {
		return nil, err
	}
	// One goroutine: a concurrent decoder would decode ahead of what is
	// read.
	zr, err := zstd.NewReader(io.MultiReader(bytes.NewReader(head), r),
		zstd.WithDecoderMaxWindow(zstdWindow), zstd.WithDecoderMaxMemory(zstdWindow), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the bundle is empty", ErrManifestFirst)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if hdr.Name != ManifestName {
		return nil, memberErr(hdr.Name, ErrManifestFirst)
	}
	raw, err := readLimited(tr, hdr, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	h := &Head{Raw: raw}
	hdr, err = tr.Next()
	for _, s := range []struct {
		name string
		dst  *[]byte
	}{{SignatureName, &h.Signatures.Minisign}, {OpenPGPSignatureName, &h.Signatures.OpenPGP}} {
		if err != nil || hdr.Name != s.name {
			continue
		}
		if *s.dst, err = readLimited(tr, hdr, MaxSignatureSize); err != nil {
			return nil, err
		}
		hdr, err = tr.Next()
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if h.Manifest, err = ParseManifest(raw); err != nil {
		return nil, memberErr(ManifestName, err)
	}
	return h, nil
}

func readLimited(tr *tar.Reader, hdr *tar.Header, limit int64) ([]byte, error) {
	if hdr.Typeflag != tar.TypeReg {
		return nil, memberErr(hdr.Name, fmt.Errorf("%w", ErrNotRegular))
	}
	if hdr.Size < 0 || hdr.Size > limit {
		return nil, memberErr(hdr.Name, fmt.Errorf("%w: %d bytes, more than the %d allowed", ErrTooLarge, hdr.Size, limit))
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, memberErr(hdr.Name, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	return data, nil
}
