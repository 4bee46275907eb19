// Package digest computes and checks the SHA-256 digests modferry names
// files by: bundle members and bundle files, go.sum files, audit-log
// chain links. (Module h1: hashes are package modfiles'.)
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// Reader returns the lower-case hex SHA-256 of what r yields, and its
// length.
func Reader(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// File returns the lower-case hex SHA-256 of the named file. An error
// opening it is returned as it is (errors.Is(err, fs.ErrNotExist) holds
// for a missing file); an error reading it names the file.
func File(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d, _, err := Reader(f)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	return d, nil
}

// IsHex reports whether s is a SHA-256 digest as this package writes it:
// 64 lower-case hex digits.
func IsHex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
