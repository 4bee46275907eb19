package bundle

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"golang.org/x/mod/sumdb/dirhash"
)

// hashZip returns the h1: hash of the module zip in r (size bytes), the
// same hash modfiles.HashZip computes for a file: dirhash.Hash1 over the
// zip's files. It is the import's largest cost (every file is inflated
// and hashed), so it reuses its inflaters, their input buffers and its
// copy buffers across files and zips instead of allocating them for every
// file, and reads r in large blocks (r may be the zip in memory).
func hashZip(r io.ReaderAt, size int64) (string, error) {
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
