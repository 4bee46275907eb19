package publish

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/onezip"
	"github.com/modferry/modferry/internal/scratch"
)

// recreate writes the files of the module zip src into a new zip made by
// golang.org/x/mod/zip, as the go command makes it, in a temporary file in
// the same directory, and returns it open, held (package scratch) so
// that no cleaner takes it for a crash leftover while it is in use. The h1: hash covers only file
// names and contents, so it is unchanged; what goes away is anything else
// the uploader chose (order, timestamps, extra fields, compression).
func recreate(v module.Version, src string) (_ *os.File, err error) {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("module zip: %v", err)))
	}
	defer zr.Close()
	prefix := v.Path + "@" + v.Version + "/"
	files := make([]modzip.File, 0, len(zr.File))
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, prefix) || strings.HasSuffix(f.Name, "/") {
			continue // directory entries; CheckZip has refused other names
		}
		files = append(files, zipEntry{f: f, path: strings.TrimPrefix(f.Name, prefix)})
	}
	// In name order, as CreateFromDir walks a directory.
	slices.SortFunc(files, func(a, b modzip.File) int { return strings.Compare(a.Path(), b.Path()) })
	out, err := scratch.CreateTemp(filepath.Dir(src), "modferry-canonical-*.zip")
	if err != nil {
		return nil, err
	}
	if err := modzip.Create(out, v, files); err != nil {
		out.Close()
		os.Remove(out.Name())
		return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("module zip: %v", err)))
	}
	return out, nil
}

// zipEntry is a file of an uploaded zip as modzip.Create wants it: a
// regular file whatever mode bits the uploader set, so that no file is
// dropped and the h1: hash stays that of the upload.
type zipEntry struct {
	f    *zip.File
	path string
}

func (e zipEntry) Path() string                 { return e.path }
func (e zipEntry) Lstat() (fs.FileInfo, error)  { return entryInfo{e}, nil }
func (e zipEntry) Open() (io.ReadCloser, error) { return e.f.Open() }

type entryInfo struct{ e zipEntry }

func (i entryInfo) Name() string       { return filepath.Base(i.e.path) }
func (i entryInfo) Size() int64        { return int64(i.e.f.UncompressedSize64) }
func (i entryInfo) Mode() fs.FileMode  { return 0o644 }
func (i entryInfo) ModTime() time.Time { return time.Time{} }
func (i entryInfo) IsDir() bool        { return false }
func (i entryInfo) Sys() any           { return nil }

// checkOneZip refuses a file that is not exactly one zip archive.
func checkOneZip(v module.Version, name string) error {
	if err := onezip.CheckFile(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("module zip: %w", err)))
	}
	return nil
}
