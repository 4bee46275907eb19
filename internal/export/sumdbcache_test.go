package export

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
)

// TestCaptureSumDBWorkDirCache captures the proof of one module twice with
// a work dir: the first capture fills WORKDIR/sumdb/NAME with the lookup
// and the full tiles; the second, with every cached tile spoiled, still
// succeeds (it captures again without the cache) and says so.
func TestCaptureSumDBWorkDirCache(t *testing.T) {
	db := checksumdbtest.New(t, "sum.test", "", 0)
	cfg := &sumdbConfig{name: db.Name, key: db.Key, url: db.URL}
	const p = "example.test/m"
	// Logged first, then enough records after it that its tile is full.
	db.Add(t, module.Version{Path: p, Version: "v1.0.0"}, fillerHash(p), fillerHash(p+"/go.mod"))
	db.AddFiller(t, 600)
	var logged []string
	opts := Options{WorkDir: t.TempDir(), Logf: func(f string, a ...any) { logged = append(logged, f) }}
	src := newSumDBSource(context.Background(), cfg, opts)
	defer src.close()
	capture := func() error {
		m := &bundle.Manifest{Modules: []bundle.Module{{Path: p, Version: "v1.0.0", ZipHash: fillerHash(p), ModHash: fillerHash(p + "/go.mod")}}}
		return captureSumDB(context.Background(), src, opts, m, &spool{dir: t.TempDir(), sources: map[string]string{}})
	}
	if err := capture(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(opts.WorkDir, "sumdb", db.Name)
	var lookups, tiles []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			switch rel = filepath.ToSlash(rel); {
			case strings.HasPrefix(rel, "lookup/"):
				lookups = append(lookups, rel)
			case strings.HasPrefix(rel, "tile/"):
				tiles = append(tiles, path)
			default:
				t.Errorf("unexpected file in the cache: %s", rel)
			}
		}
		return nil
	})
	if len(lookups) != 1 || len(tiles) == 0 {
		t.Fatalf("cache holds lookups %v and %d tiles, want the one lookup and the full tiles", lookups, len(tiles))
	}
	for _, tile := range tiles {
		data, err := os.ReadFile(tile)
		if err != nil {
			t.Fatal(err)
		}
		data[0] ^= 1
		if err := os.WriteFile(tile, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := capture(); err != nil {
		t.Fatalf("capture with spoiled cached tiles: %v", err)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "fetching everything again") {
		t.Errorf("logged %q, want one message about fetching again", logged)
	}
}
