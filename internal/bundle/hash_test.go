package bundle_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
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
		got, err := bundle.HashZip(z)
		if err != nil || got != want {
			t.Errorf("HashZip(%s) = %q, %v; dirhash says %q", z, got, err, want)
		}
	}
}
