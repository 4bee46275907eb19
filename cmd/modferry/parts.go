package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/parts"
	"github.com/modferry/modferry/internal/safefile"
	"github.com/modferry/modferry/internal/trust"
)

// parseSize reads a size such as 4G, 700M, 4GiB, 650MB or 123456 (bytes).
// K, M, G and T are powers of 1024 with or without "iB"; "KB", "MB", "GB"
// and "TB" are powers of 1000, as disc and portal limits are written.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || n <= 0 || n*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (K, M, G, T, KiB…, KB…), e.g. 4G or 700MB", s)
	}
	return int64(n * float64(mult)), nil
}

// splitBundle cuts the bundle file into parts of at most size bytes,
// writes their index with the signatures sign gives it (nil: unsigned),
// removes the whole bundle file, and returns the index's path.
func splitBundle(file string, size int64, sign func([]byte) (bundle.Signatures, error)) (string, *parts.Index, error) {
	idx, err := parts.Split(file, size)
	if err != nil {
		return "", nil, err
	}
	data, err := idx.Marshal()
	if err != nil {
		return "", nil, err
	}
	indexPath := file + parts.IndexSuffix
	if sign != nil {
		sigs, err := sign(data)
		if err != nil {
			return "", nil, fmt.Errorf("signing the parts index: %w", err)
		}
		for ext, sig := range map[string][]byte{".minisig": sigs.Minisign, ".asc": sigs.OpenPGP} {
			if sig != nil {
				if err := safefile.WriteFile(indexPath+ext, sig, 0o644); err != nil {
					return "", nil, err
				}
			}
		}
	}
	if err := safefile.WriteFile(indexPath, data, 0o644); err != nil {
		return "", nil, err
	}
	return indexPath, idx, os.Remove(file)
}

// splitIndex returns the index of a split bundle named by arg (the index
// or one of its parts), if arg is one.
func splitIndex(arg string) (string, bool) {
	idx, ok := parts.IndexPath(arg)
	if !ok {
		return "", false
	}
	if _, err := os.Stat(idx); err != nil {
		// A file that merely ends in digits is a bundle of its own.
		if _, ferr := os.Stat(arg); ferr == nil && !strings.HasSuffix(arg, parts.IndexSuffix) {
			return "", false
		}
	}
	return idx, true
}

// openParts opens a split bundle's parts as one stream after checking the
// index's signatures against policy (or accepting an unsigned index with
// allowUnsigned).
func openParts(indexPath string, policy trust.Policy, allowUnsigned bool) (*parts.Reader, error) {
	return parts.Open(indexPath, func(index []byte) error {
		var sigs bundle.Signatures
		for ext, dst := range map[string]*[]byte{".minisig": &sigs.Minisign, ".asc": &sigs.OpenPGP} {
			b, err := readSignatureFile(indexPath + ext)
			if err == nil {
				*dst = b
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		switch {
		case sigs.Empty() && allowUnsigned:
			return nil
		case sigs.Empty():
			return fmt.Errorf("%w: the parts index has no signature (%s.minisig or .asc); give --allow-unsigned to accept it anyway", bundle.ErrUnsigned, filepath.Base(indexPath))
		case policy.Keys == nil:
			return nil // --allow-unsigned without keys: signatures present are not checked, as for a bundle
		}
		if _, err := policy.Verify(index, sigs); err != nil {
			return fmt.Errorf("%w: the parts index: %w", bundle.ErrBadSignature, err)
		}
		return nil
	})
}

// readParts runs read on the joined parts and, if it fails, names a part
// that does not match its hash in place of the reader's error.
func readParts(r *parts.Reader, read func(io.Reader) error) error {
	err := read(r)
	if err != nil {
		var pe *parts.PartError
		if !errors.As(err, &pe) {
			if blame := r.Blame(); blame != nil {
				err = blame
			}
		}
	}
	r.Close()
	return err
}

// readSignatureFile reads a signature file that came with the parts on
// the same medium, as bundle signatures are read: a regular file of at
// most bundle.MaxSignatureSize bytes (not a symlink to /dev/zero, not a
// file of gigabytes).
func readSignatureFile(name string) ([]byte, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Size() > bundle.MaxSignatureSize {
		return nil, fmt.Errorf("%s: %d bytes, more than a signature's %d", name, fi.Size(), bundle.MaxSignatureSize)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, bundle.MaxSignatureSize+1))
	if err == nil && len(b) > bundle.MaxSignatureSize {
		err = fmt.Errorf("%s: more than a signature's %d bytes", name, bundle.MaxSignatureSize)
	}
	return b, err
}
