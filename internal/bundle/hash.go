package bundle

import (
	"io"
	"os"

	"github.com/modferry/modferry/internal/digest"
)

// HashFile returns the manifest entry for member name, whose content is the
// file at filename.
func HashFile(name, filename string) (File, error) {
	f, err := os.Open(filename)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	return HashReader(name, f)
}

// HashReader returns the manifest entry for member name with content r.
func HashReader(name string, r io.Reader) (File, error) {
	sum, n, err := digest.Reader(r)
	if err != nil {
		return File{}, err
	}
	return File{Path: name, Size: n, SHA256: sum}, nil
}
