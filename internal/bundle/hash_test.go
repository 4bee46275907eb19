package bundle

import (
	"io"
	"os"

	"golang.org/x/mod/sumdb/dirhash"
)

func hash1File(file string) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(file) })
}
