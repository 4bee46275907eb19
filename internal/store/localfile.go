package store

import (
	"context"
	"io"
	"os"
)

// A Pather keeps each object as a file of the local filesystem (Disk),
// whose path it gives: for what needs a file (a zip to hash or to read
// licences from), or one stat for an object's size.
type Pather interface {
	Path(name string) string
}

// LocalFile returns a file of the local filesystem holding the named
// object, and a cleanup to call when done with it: the store's own file
// if it is a Pather, else a temporary copy (in tempDir, or os.TempDir()
// if "") that cleanup removes.
func LocalFile(ctx context.Context, s Store, name, tempDir string) (path string, cleanup func(), err error) {
	if err := CheckName(name); err != nil {
		return "", nil, err
	}
	if p, ok := s.(Pather); ok {
		return p.Path(name), func() {}, nil
	}
	f, err := s.Open(ctx, name)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	tmp, err := os.CreateTemp(tempDir, "modferry-object-*")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.Remove(tmp.Name()) }
	_, err = io.Copy(tmp, f)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return tmp.Name(), cleanup, nil
}
