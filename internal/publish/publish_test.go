package publish

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newRepo(t *testing.T) *modules.Repo {
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &modules.Repo{Store: st}
}

func TestPublishFromDir(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	dir := writeTree(t, map[string]string{
		"go.mod":              "module corp.example/priv\n\ngo 1.22\n",
		"priv.go":             "package priv\n",
		"vendor/x/x.go":       "package x\n",
		"nested/go.mod":       "module corp.example/priv/nested\n",
		"nested/n.go":         "package nested\n",
		".git/config":         "[core]\n",
		"internal/i/i.go":     "package i\n",
		"testdata/data.txt":   "data\n",
		"sub/Readme.MD":       "hi\n",
		"sub/other/file.go":   "package other\n",
		"sub/other/file_test": "x\n",
	})
	v := module.Version{Path: "corp.example/priv", Version: "v1.0.0"}
	when := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := FromDir(v, dir, when)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !strings.HasPrefix(m.Hash, "h1:") || !strings.HasPrefix(m.ModHash, "h1:") {
		t.Fatalf("hashes %q %q", m.Hash, m.ModHash)
	}
	if err := Publish(ctx, repo, m); err != nil {
		t.Fatal(err)
	}
	vs, err := repo.List(ctx, v.Path)
	if err != nil || len(vs) != 1 || vs[0] != "v1.0.0" {
		t.Fatalf("list = %v, %v", vs, err)
	}
	name, _ := modfiles.Name(v, modfiles.Info)
	info, _ := store.ReadAll(ctx, repo.Store, name)
	if string(info) != `{"Version":"v1.0.0","Time":"2025-01-02T03:04:05Z"}`+"\n" {
		t.Errorf("info = %s", info)
	}
	if stamp, err := store.ReadAll(ctx, repo.Store, modules.AdditionStamp); err != nil || !strings.Contains(string(stamp), v.String()) {
		t.Errorf("addition stamp after the publish = %q, %v", stamp, err)
	}
	list, _ := store.ReadAll(ctx, repo.Store, "download/corp.example/priv/@v/list")
	if string(list) != "v1.0.0\n" {
		t.Errorf("list file = %q", list)
	}

	// Immutable: a second publish of the same version fails, whatever its content.
	m2, err := FromDir(v, dir, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	err = Publish(ctx, repo, m2)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "versions are immutable") {
		t.Fatalf("second publish: %v", err)
	}

	// Deleted: the version stays taken.
	if err := Delete(ctx, repo, v, modules.GoneRecord{Actor: "t"}); !errors.Is(err, ErrNoReason) {
		t.Fatalf("delete without reason: %v", err)
	}
	if err := Delete(ctx, repo, v, modules.GoneRecord{Actor: "t", Reason: "leaked secret"}); err != nil {
		t.Fatal(err)
	}
	err = Publish(ctx, repo, m2)
	var ee *ExistsError
	if !errors.As(err, &ee) || !ee.Deleted {
		t.Fatalf("publish after delete: %v", err)
	}
}

func TestPublishRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		v     module.Version
		files map[string]string
		want  string
	}{
		{"wrong path", module.Version{Path: "corp.example/a", Version: "v1.0.0"},
			map[string]string{"go.mod": "module corp.example/b\n"}, "declares module corp.example/b"},
		{"no go.mod", module.Version{Path: "corp.example/a", Version: "v1.0.0"},
			map[string]string{"a.go": "package a\n"}, "no go.mod"},
		{"major suffix", module.Version{Path: "corp.example/a", Version: "v2.0.0"},
			map[string]string{"go.mod": "module corp.example/a\n"}, "invalid version"},
		{"not canonical", module.Version{Path: "corp.example/a", Version: "v1.0"},
			map[string]string{"go.mod": "module corp.example/a\n"}, "not canonical"},
		{"incompatible with go.mod", module.Version{Path: "corp.example/a", Version: "v2.0.0+incompatible"},
			map[string]string{"go.mod": "module corp.example/a\n"}, "+incompatible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FromDir(tc.v, writeTree(t, tc.files), time.Time{})
			if err == nil {
				m.Close()
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.want)
			}
			// module.Check leaves Version empty and names it in an
			// *module.InvalidVersionError instead.
			var me *module.ModuleError
			var ive *module.InvalidVersionError
			if !errors.As(err, &me) || me.Path != tc.v.Path || me.Version != tc.v.Version && !(errors.As(err, &ive) && ive.Version == tc.v.Version) {
				t.Errorf("err = %v, want a *module.ModuleError for %s", err, tc.v)
			}
		})
	}
}

func TestPublishIncompatible(t *testing.T) {
	v := module.Version{Path: "corp.example/old", Version: "v3.1.0+incompatible"}
	m, err := FromDir(v, writeTree(t, map[string]string{"old.go": "package old\n"}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if string(m.Mod) != "module corp.example/old\n" {
		t.Fatalf("mod = %q", m.Mod)
	}
	if err := Publish(context.Background(), newRepo(t), m); err != nil {
		t.Fatal(err)
	}
}

func TestFromFilesRejectsMismatchedMod(t *testing.T) {
	v := module.Version{Path: "corp.example/a", Version: "v1.0.0"}
	m, err := FromDir(v, writeTree(t, map[string]string{"go.mod": "module corp.example/a\n"}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := FromFiles(v, []byte("module corp.example/a\n\ngo 1.99\n"), m.ZipPath, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("mismatched .mod accepted: %v", err)
	}
	other := module.Version{Path: "corp.example/a", Version: "v1.0.1"}
	if _, err := FromFiles(other, m.Mod, m.ZipPath, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zip of another version accepted: %v", err)
	}
	if _, err := FromFiles(v, m.Mod, m.ZipPath, time.Time{}); err != nil {
		t.Fatal(err)
	}
}
