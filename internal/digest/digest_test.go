package digest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	// sha256("abc") from FIPS 180-2, appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got, err := File(name); err != nil || got != want {
		t.Errorf("File = %q, %v; want %q", got, err, want)
	}
	if got, n, err := Reader(strings.NewReader("abc")); err != nil || got != want || n != 3 {
		t.Errorf("Reader = %q, %d, %v", got, n, err)
	}
	if _, err := File(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestIsHex(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 4)
	for s, want := range map[string]bool{
		good:                         true,
		strings.ToUpper(good):        false,
		good[:63]:                    false,
		good + "0":                   false,
		good[:63] + "g":              false,
		"":                           false,
		strings.Repeat("\u00e9", 32): false,
	} {
		if IsHex(s) != want {
			t.Errorf("IsHex(%q) = %v", s, !want)
		}
	}
}
