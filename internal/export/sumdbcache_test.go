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

// TestCaptureSumDBWorkDirCache captures the proof of one module three
// times with a work dir: the first capture fills WORKDIR/sumdb/NAME with
// the lookup and the full tiles; the others, with every cached tile
// spoiled, still succeed. A tile spoiled on disk is a miss of the cache,
// fetched again silently; a tile stored wrong makes the capture start
// again without the cache, and say so.
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
	spoil := func(with func(file string, data []byte)) {
		t.Helper()
		for _, tile := range tiles {
			data, err := os.ReadFile(tile)
			if err != nil {
				t.Fatal(err)
			}
			data[0] ^= 1
			with(tile, data)
		}
	}
	// A file spoiled on disk fails the cache's own trailer: a miss,
	// fetched and stored again, with nothing to report.
	spoil(func(file string, data []byte) {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if err := capture(); err != nil {
		t.Fatalf("capture with tiles spoiled on disk: %v", err)
	}
	if len(logged) != 0 {
		t.Errorf("logged %q for tiles spoiled on disk, want nothing", logged)
	}
	for _, tile := range tiles {
		rel, _ := filepath.Rel(dir, tile)
		if _, ok := dirCache(dir).Get(filepath.ToSlash(rel)); !ok {
			t.Errorf("cached tile %s not stored again", rel)
		}
	}
	// A tile that passes the cache's check but not the tree's (as if it
	// had been stored wrong) makes the capture start again without the
	// cache.
	spoil(func(file string, data []byte) {
		rel, _ := filepath.Rel(dir, file)
		dirCache(dir).Put(filepath.ToSlash(rel), data[:len(data)-trailerSize])
	})
	if err := capture(); err != nil {
		t.Fatalf("capture with spoiled cached tiles: %v", err)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "fetching everything again") {
		t.Errorf("logged %q, want one message about fetching again", logged)
	}
}
