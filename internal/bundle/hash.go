package bundle

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/flate"
	"golang.org/x/mod/sumdb/dirhash"
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
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return File{}, err
	}
	return File{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// HashZip returns the go.sum hash ("h1:...") of the module zip at filename.
// It is dirhash.HashZip with dirhash.Hash1, reading the zip with a faster
// DEFLATE decoder (klauspost/compress/flate): hashing means inflating every
// file, which dominates importing a bundle.
func HashZip(filename string) (string, error) {
	z, err := zip.OpenReader(filename)
	if err != nil {
		return "", err
	}
	defer z.Close()
	z.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
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
		return f.Open()
	})
}

// HashMod returns the go.sum "/go.mod" hash ("h1:...") of a go.mod file's
// content: dirhash.Hash1 over the single file "go.mod".
func HashMod(gomod []byte) string {
	sum := sha256.Sum256(gomod)
	return modHashFromSHA256(hex.EncodeToString(sum[:]))
}

// h1Summary returns "h1:" and the base64 SHA-256 of a dirhash.Hash1 summary.
func h1Summary(summary string) string {
	sum := sha256.Sum256([]byte(summary))
	return "h1:" + base64.StdEncoding.EncodeToString(sum[:])
}
