package modfiles

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/flate"
	"golang.org/x/mod/sumdb/dirhash"
)

// HashZip returns the go.sum hash ("h1:...") of the module zip at filename:
// dirhash.HashZip with dirhash.Hash1, computed by HashZipReader.
func HashZip(filename string) (string, error) {
	f, err := os.Open(filename)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return HashZipReader(f, fi.Size())
}

// HashZipReader returns the h1: hash of the module zip in r (size bytes):
// dirhash.Hash1 over the zip's files. Hashing means inflating every file,
// which dominates importing a bundle, so it uses a faster DEFLATE decoder
// (klauspost/compress/flate), reuses its inflaters, their input buffers and
// its copy buffers across files and zips instead of allocating them for
// every file, and reads r in large blocks (r may be the zip in memory).
func HashZipReader(r io.ReaderAt, size int64) (string, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return "", err
	}
	z.RegisterDecompressor(zip.Deflate, newInflater)
	files := make([]string, 0, len(z.File))
	byName := make(map[string]*zip.File, len(z.File))
	for _, f := range z.File {
		files = append(files, f.Name)
		byName[f.Name] = f
	}
	return dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		f := byName[name]
		if f == nil {
			return nil, fmt.Errorf("file %q not found in zip", name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		return copier{rc}, nil
	})
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copier gives dirhash's io.Copy a pooled buffer (io.Copy allocates
// 32 KiB per file otherwise).
type copier struct{ io.ReadCloser }

func (c copier) WriteTo(w io.Writer) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(onlyWriter{w}, c.ReadCloser, *buf)
}

// onlyWriter hides any ReadFrom of w, so that io.CopyBuffer uses the
// buffer it is given.
type onlyWriter struct{ io.Writer }

// inflater is a pooled deflate reader with its own input buffer: the zip
// reader hands it an io.SectionReader, which flate would otherwise wrap
// in a fresh 4 KiB bufio.Reader (and, for a file, a 4 KiB pread per fill).
type inflater struct {
	fr  io.ReadCloser // a flate reader; also a flate.Resetter
	br  *bufio.Reader
	out bool // handed out: Close returns it to the pool once
}

const inflaterBuffer = 64 << 10

var inflaters sync.Pool

// newInflater is the zip.Decompressor for Deflate.
func newInflater(r io.Reader) io.ReadCloser {
	in, _ := inflaters.Get().(*inflater)
	if in == nil {
		br := bufio.NewReaderSize(r, inflaterBuffer)
		in = &inflater{fr: flate.NewReader(br), br: br}
	} else {
		in.br.Reset(r)
		if err := in.fr.(flate.Resetter).Reset(in.br, nil); err != nil {
			in = &inflater{fr: flate.NewReader(in.br), br: in.br}
		}
	}
	in.out = true
	return in
}

func (in *inflater) Read(p []byte) (int, error) { return in.fr.Read(p) }

func (in *inflater) Close() error {
	if !in.out {
		return nil
	}
	in.out = false
	err := in.fr.Close()
	in.br.Reset(nil)
	inflaters.Put(in)
	return err
}

// HashMod returns the go.sum "/go.mod" hash ("h1:...") of a go.mod file's
// content: dirhash.Hash1 over the single file "go.mod".
func HashMod(gomod []byte) string {
	sum := sha256.Sum256(gomod)
	return HashModSHA256(hex.EncodeToString(sum[:]))
}

// HashModSHA256 returns the go.sum "/go.mod" hash of a go.mod file given
// its hex SHA-256, or "" if hexSum is not hex: dirhash.Hash1 over the one
// file "go.mod".
func HashModSHA256(hexSum string) string {
	if _, err := hex.DecodeString(hexSum); err != nil {
		return ""
	}
	return h1Summary(fmt.Sprintf("%s  go.mod\n", hexSum))
}

// h1Summary returns "h1:" and the base64 SHA-256 of a dirhash.Hash1 summary.
func h1Summary(summary string) string {
	sum := sha256.Sum256([]byte(summary))
	return "h1:" + base64.StdEncoding.EncodeToString(sum[:])
}
