// Package memzip builds module zips from files held in memory, for test
// fixtures and hand-made bundles: golang.org/x/mod/zip.Create wants
// zip.File values, which this package provides for byte slices.
package memzip

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"slices"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Create writes the module zip of v holding files (slash-separated name
// relative to the module root → content), in name order, by the module
// zip rules of golang.org/x/mod/zip.
func Create(w io.Writer, v module.Version, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	zf := make([]modzip.File, 0, len(names))
	for _, n := range names {
		zf = append(zf, file{n, files[n]})
	}
	return modzip.Create(w, v, zf)
}

// Bytes is Create into memory.
func Bytes(v module.Version, files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	err := Create(&buf, v, files)
	return buf.Bytes(), err
}

type file struct {
	name string
	data []byte
}

func (f file) Path() string                 { return f.name }
func (f file) Lstat() (fs.FileInfo, error)  { return info(f), nil }
func (f file) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type info file

func (i info) Name() string       { return path.Base(i.name) }
func (i info) Size() int64        { return int64(len(i.data)) }
func (i info) Mode() fs.FileMode  { return 0o644 }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return false }
func (i info) Sys() any           { return nil }
