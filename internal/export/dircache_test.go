package export

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDirCache checks that the work dir's checksum-database cache hands
// out only what it was given: a file that a crash or the disk spoiled,
// even one of the right length, and a file written without the trailer
// (before it existed) are misses, and Put repairs them.
func TestDirCache(t *testing.T) {
	d := dirCache(t.TempDir())
	const p = "sum.test/tile/8/0/001"
	tile := bytes.Repeat([]byte{0xab, 0xcd}, 4096)
	file := filepath.Join(string(d), filepath.FromSlash(p))

	if _, ok := d.Get(p); ok {
		t.Fatal("Get of an empty cache: ok")
	}
	d.Put(p, tile)
	got, ok := d.Get(p)
	if !ok || !bytes.Equal(got, tile) {
		t.Fatalf("Get after Put: %d bytes, ok %v; want the %d bytes put", len(got), ok, len(tile))
	}
	stored, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	spoil := map[string][]byte{
		"zeros of the same length": make([]byte, len(stored)),
		"cut short":                stored[:len(stored)/2],
		"empty":                    {},
		"one bit flipped":          append([]byte{stored[0] ^ 1}, stored[1:]...),
		"trailer flipped":          append(append([]byte(nil), stored[:len(stored)-1]...), stored[len(stored)-1]^1),
		"without a trailer":        tile,
	}
	for what, data := range spoil {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok := d.Get(p); ok {
			t.Errorf("%s: Get gave %d bytes, want a miss", what, len(got))
		}
		d.Put(p, tile)
		if got, ok := d.Get(p); !ok || !bytes.Equal(got, tile) {
			t.Errorf("%s: Get after Put again: %d bytes, ok %v", what, len(got), ok)
		}
	}
	// Zero bytes are a valid entry, distinct from a miss.
	d.Put("sum.test/lookup/empty", nil)
	if got, ok := d.Get("sum.test/lookup/empty"); !ok || len(got) != 0 {
		t.Errorf("Get of an empty entry: %q, %v", got, ok)
	}
	if m, _ := filepath.Glob(filepath.Join(string(d), "sum.test", "tile", "8", "0", ".tmp-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// BenchmarkDirCacheGet reads one full tile (8 KiB) from the cache, with
// its SHA-256 check, beside a plain read of the same file (the cache
// before the trailer): what the check costs per file.
func BenchmarkDirCacheGet(b *testing.B) {
	d := dirCache(b.TempDir())
	const p = "sum.test/tile/8/0/001"
	d.Put(p, bytes.Repeat([]byte{0xab}, 8192))
	file := filepath.Join(string(d), filepath.FromSlash(p))
	b.Run("checked", func(b *testing.B) {
		for b.Loop() {
			if _, ok := d.Get(p); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("plain-read", func(b *testing.B) {
		for b.Loop() {
			if _, err := os.ReadFile(file); err != nil {
				b.Fatal(err)
			}
		}
	})
}
