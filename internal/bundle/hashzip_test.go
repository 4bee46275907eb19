package bundle_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/modfiles"
)

// TestHashZipMatchesModfiles: the pooled h1: hash the reader uses
// (modfiles.HashZipReader, and modfiles.HashZip on a file) is the one the
// go command's dirhash.HashZip computes, from memory and from a file, for zips of several sizes hashed one after the
// other (so that pooled inflaters and buffers are reused).
func TestHashZipMatchesModfiles(t *testing.T) {
	dir := t.TempDir()
	mods := append(bundletest.RandomModules(3, 4, 200), bundletest.RandomModules(4, 3, 300000)...)
	mods = append(mods,
		bundletest.Module{Path: "example.com/empty", Version: "v1.0.0", Files: map[string][]byte{"go.mod": []byte("module example.com/empty\n")}},
		bundletest.Module{Path: "example.com/text", Version: "v1.2.3", Files: map[string][]byte{
			"go.mod": []byte("module example.com/text\n"), "a.go": bytes.Repeat([]byte("package a // text\n"), 50000),
			"sub/b.go": []byte("package sub\n"), "README": nil,
		}})
	for i := range 2 { // twice: the second round runs on pooled inflaters
		for _, m := range mods {
			z := bundletest.Zip(t, module.Version{Path: m.Path, Version: m.Version}, m.Files)
			file := filepath.Join(dir, strings.ReplaceAll(m.Path, "/", "_")+".zip")
			if err := os.WriteFile(file, z, 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := dirhash.HashZip(file, dirhash.Hash1)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := modfiles.HashZip(file); err != nil || got != want {
				t.Errorf("round %d, %s: modfiles.HashZip = %q, %v; want %q", i, m.Path, got, err, want)
			}
			got, err := modfiles.HashZipReader(bytes.NewReader(z), int64(len(z)))
			if err != nil || got != want {
				t.Errorf("round %d, %s: HashZip from memory = %q, %v; want %q", i, m.Path, got, err, want)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err = modfiles.HashZipReader(f, int64(len(z)))
			f.Close()
			if err != nil || got != want {
				t.Errorf("round %d, %s: HashZip from a file = %q, %v; want %q", i, m.Path, got, err, want)
			}
		}
	}
	if _, err := modfiles.HashZipReader(bytes.NewReader([]byte("not a zip")), 9); err == nil {
		t.Error("HashZip of a non-zip: no error")
	}
}

// TestHostileBundlesZipsFromFiles runs the hostile-bundle checks with
// every module zip checked from its staged file, the path zips too large
// to hold in memory take.
func TestHostileBundlesZipsFromFiles(t *testing.T) {
	defer bundle.SetZipMemory(0)()
	TestHostileBundles(t)
	TestZipWithDataInFront(t)
}
