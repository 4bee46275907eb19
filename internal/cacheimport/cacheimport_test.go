package cacheimport_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/cacheimport"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/testupstream"
	"golang.org/x/mod/module"
)

// cacheFrom writes the fixture modules as a GOMODCACHE (with .ziphash
// files, as the go command leaves them) and returns its root.
func cacheFrom(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dl := filepath.Join(root, "cache", "download")
	if _, err := testupstream.WriteDir(dl); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(dl, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(p, ".zip") {
			return err
		}
		h, err := hashZip(p)
		if err != nil {
			return err
		}
		return os.WriteFile(strings.TrimSuffix(p, ".zip")+".ziphash", []byte(h), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	cache := cacheFrom(t)
	dl := filepath.Join(cache, "cache", "download")
	// Damage: a zip that no longer matches its .ziphash, a .info naming
	// another version, and a lock file the go command leaves around.
	zipPath := filepath.Join(dl, "modferry.test/dep/@v/v1.1.0.zip")
	data, _ := os.ReadFile(zipPath)
	data[len(data)/2] ^= 1
	os.WriteFile(zipPath, data, 0o644)
	os.WriteFile(filepath.Join(dl, "modferry.test/lib/@v/v1.1.0.info"), []byte(`{"Version":"v9.9.9"}`), 0o644)
	os.WriteFile(filepath.Join(dl, "modferry.test/lib/@v/v1.0.0.lock"), nil, 0o644)

	st, _ := store.NewDisk(t.TempDir())
	repo := &modules.Repo{Store: st}
	// Accepts a GOMODCACHE, its cache/download, or a GOPATH-like parent.
	res, err := cacheimport.Import(ctx, repo, cache, cacheimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, s := range res.Skipped {
		skipped[s.Version.String()] = s.Reason
	}
	if r := skipped["modferry.test/dep@v1.1.0"]; !strings.Contains(r, "does not match its .ziphash") && !strings.Contains(r, "zip") {
		t.Errorf("corrupt zip: skipped = %q", r)
	}
	if r := skipped["modferry.test/lib@v1.1.0"]; !strings.Contains(r, ".info names version") {
		t.Errorf("bad .info: skipped = %q", r)
	}
	if len(res.Skipped) != 2 {
		t.Errorf("skipped %v, want exactly the two damaged versions", res.Skipped)
	}
	if stamp, err := store.ReadAll(ctx, repo.Store, modules.AdditionStamp); err != nil || !strings.Contains(string(stamp), "--cache-dir") {
		t.Errorf("addition stamp after the import = %q, %v", stamp, err)
	}
	if vs, _ := repo.List(ctx, "modferry.test/lib"); strings.Join(vs, " ") != "v1.0.0 v1.2.0 v1.3.0-rc.1" {
		t.Errorf("lib lists %v", vs)
	}
	if _, err := os.Stat(filepath.Join(st.Root(), "download/modferry.test/lib/@v/list")); err != nil {
		t.Errorf("no list file for file:// clients: %v", err)
	}

	// Again: everything valid is present, nothing new.
	res2, err := cacheimport.Import(ctx, repo, dl, cacheimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Added) != 0 || len(res2.Present) != len(res.Added) {
		t.Errorf("second import: added %d, present %d; want 0 and %d", len(res2.Added), len(res2.Present), len(res.Added))
	}

	// A different zip for a version the store holds is a conflict.
	other := cacheFrom(t)
	odl := filepath.Join(other, "cache", "download")
	zp := filepath.Join(odl, "modferry.test/lib/@v/v1.2.0.zip")
	os.Remove(filepath.Join(odl, "modferry.test/lib/@v/v1.2.0.ziphash"))
	copyZipWithExtraFile(t, zp, "modferry.test/lib@v1.2.0/")
	res3, err := cacheimport.Import(ctx, repo, other, cacheimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range res3.Skipped {
		if s.Version.String() == "modferry.test/lib@v1.2.0" && strings.Contains(s.Reason, "conflict") {
			found = true
		}
	}
	if !found {
		t.Errorf("a different zip for a stored version was not reported as a conflict: %q", skipReasons(res3.Skipped))
	}
}

func TestFindDownloadDir(t *testing.T) {
	if _, err := cacheimport.FindDownloadDir(t.TempDir()); err == nil {
		t.Error("an empty directory was taken for a module cache")
	}
}

// TestImportRefusesDataBeforeZip: a cached zip that is JUNK + decoy.zip +
// real.zip hashes like real.zip (Go's zip reader sees only it) and so
// matches its .ziphash, but it is not one zip archive: it is skipped.
func TestImportRefusesDataBeforeZip(t *testing.T) {
	ctx := context.Background()
	cache := cacheFrom(t)
	dl := filepath.Join(cache, "cache", "download")
	zipPath := filepath.Join(dl, "modferry.test/lib/@v/v1.2.0.zip")
	real, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	var decoy bytes.Buffer
	zw := zip.NewWriter(&decoy)
	f, _ := zw.Create("modferry.test/lib@v1.2.0/evil.go")
	f.Write([]byte("package lib\n\nfunc init() { panic(\"decoy\") }\n"))
	zw.Close()
	attack := append(append(bytes.Repeat([]byte("JUNK"), 64), decoy.Bytes()...), real...)
	if err := os.WriteFile(zipPath, attack, 0o644); err != nil {
		t.Fatal(err)
	}
	if h, err := hashZip(zipPath); err != nil || h != strings.TrimSpace(readFile(t, strings.TrimSuffix(zipPath, ".zip")+".ziphash")) {
		t.Fatalf("the construction no longer hashes like the real zip (%v); the test needs another", err)
	}

	st, _ := store.NewDisk(t.TempDir())
	res, err := cacheimport.Import(ctx, &modules.Repo{Store: st}, cache, cacheimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := strings.Join(skipReasons(res.Skipped), "; "); !strings.Contains(r, "modferry.test/lib@v1.2.0") || !strings.Contains(r, "not exactly one zip archive") {
		t.Fatalf("skipped: %s; want lib@v1.2.0 skipped as not exactly one zip archive", r)
	}
	if ok, _ := store.Exists(ctx, st, "download/modferry.test/lib/@v/v1.2.0.zip"); ok {
		t.Fatal("the concatenated zip was stored")
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImportKeepsDeletedGone checks that a version deleted on purpose
// stays gone when a module cache holds it again, and that one prune
// removed comes back.
func TestImportKeepsDeletedGone(t *testing.T) {
	ctx := context.Background()
	cache := cacheFrom(t)
	st, _ := store.NewDisk(t.TempDir())
	repo := &modules.Repo{Store: st}
	if _, err := cacheimport.Import(ctx, repo, cache, cacheimport.Options{}); err != nil {
		t.Fatal(err)
	}
	deleted := module.Version{Path: "modferry.test/lib", Version: "v1.0.0"}
	pruned := module.Version{Path: "modferry.test/lib", Version: "v1.2.0"}
	now := time.Now().UTC()
	if err := repo.Delete(ctx, deleted, modules.GoneRecord{Time: now, Actor: "test", Reason: "malicious"}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Delete(ctx, pruned, modules.GoneRecord{Time: now, Actor: "test", Reason: "pruned: unused", Pruned: true}); err != nil {
		t.Fatal(err)
	}
	res, err := cacheimport.Import(ctx, repo, cache, cacheimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := strings.Join(skipReasons(res.Skipped), "; "); !strings.Contains(r, deleted.String()) || !strings.Contains(r, "stays gone") {
		t.Errorf("skipped = %s; want %s, deleted", r, deleted)
	}
	if !slices.Contains(res.Added, pruned) || slices.Contains(res.Added, deleted) {
		t.Errorf("added %v; want %v back and not %v", res.Added, pruned, deleted)
	}
	if vs, _ := repo.List(ctx, "modferry.test/lib"); strings.Join(vs, " ") != "v1.1.0 v1.2.0 v1.3.0-rc.1" {
		t.Errorf("lib lists %v", vs)
	}
	if g, err := repo.IsGone(ctx, pruned); err != nil || g != nil {
		t.Errorf("prune's record after the version came back = %+v, %v", g, err)
	}
}
