package modfiles

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"golang.org/x/mod/sumdb/dirhash"
)

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
