package modfiles

import (
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
)

func hash1File(file string) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(file) })
}

// TestHashZipMatchesDirhash: the fast HashZip agrees with x/mod's dirhash
// on real module zips.
func TestHashZipMatchesDirhash(t *testing.T) {
	zips, _ := filepath.Glob(filepath.Join(os.Getenv("GOMODCACHE"), "cache/download/*/*/@v/*.zip"))
	if len(zips) == 0 {
		// The test binary's own module cache has the dependencies' zips.
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err == nil {
			zips, _ = filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "cache/download/*/*/@v/*.zip"))
		}
	}
	if len(zips) == 0 {
		t.Fatal("no module zips found in the module cache to compare against")
	}
	if len(zips) > 20 {
		zips = zips[:20]
	}
	for _, z := range zips {
		want, err := dirhash.HashZip(z, dirhash.Hash1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := HashZip(z)
		if err != nil || got != want {
			t.Errorf("HashZip(%s) = %q, %v; dirhash says %q", z, got, err, want)
		}
	}
}

func TestHashMod(t *testing.T) {
	// Values from go.sum of real modules.
	for _, tc := range []struct{ gomod, want string }{
		{"module golang.org/x/sync\n\ngo 1.18\n", ""},
	} {
		got := HashMod([]byte(tc.gomod))
		if !isH1(got) {
			t.Errorf("HashMod = %q, not an h1: hash", got)
		}
	}
	// HashMod is dirhash.Hash1 over the single file go.mod.
	dir := t.TempDir()
	gomod := []byte("module example.com/m\n\ngo 1.22\n")
	os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644)
	want, err := hash1File(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if got := HashMod(gomod); got != want {
		t.Errorf("HashMod = %s, dirhash.Hash1 = %s", got, want)
	}
	if got := HashModSHA256("not hex"); got != "" {
		t.Errorf("HashModSHA256(not hex) = %q, want \"\"", got)
	}
}

// isH1 reports whether s is "h1:" and the base64 of 32 bytes.
func isH1(s string) bool {
	b, ok := strings.CutPrefix(s, "h1:")
	if !ok {
		return false
	}
	sum, err := base64.StdEncoding.Strict().DecodeString(b)
	return err == nil && len(sum) == 32
}
