package resolve

import (
	"io"
	"os"
	"path/filepath"
)

// writeFileAtomic writes the contents of r to name through a temporary file
// in the same directory, synced and renamed into place. It returns the
// number of bytes written.
func writeFileAtomic(name string, r io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}
