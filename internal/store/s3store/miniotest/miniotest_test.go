package miniotest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScriptVersion: scripts/test.sh builds the MinIO version Find looks
// for in the cache.
func TestScriptVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "minio_version="+Version+" ") {
		t.Fatalf("scripts/test.sh does not build MinIO %s", Version)
	}
}

// TestStart starts and restarts a server and checks its health.
func TestStart(t *testing.T) {
	s := Start(t)
	if err := s.waitReady(0); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err == nil {
		t.Fatal("Restart of a running server succeeded")
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "drive4")); err != nil {
		t.Fatalf("no fourth drive: %v", err)
	}
}

// TestFind: MODFERRY_MINIO first, then PATH, then the cache; nothing found
// is ErrNoBinary, which Require turns into a skip (or a failure with
// MODFERRY_REQUIRE_MINIO=1).
func TestFind(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	t.Setenv("XDG_CACHE_HOME", dir)
	t.Setenv("MODFERRY_MINIO", "")
	if _, err := Find(); !errors.Is(err, ErrNoBinary) {
		t.Fatalf("Find with no binary: %v, want ErrNoBinary", err)
	}
	cached, _ := CacheBinary()
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Find(); err != nil || p != cached {
		t.Fatalf("Find = %q, %v; want the cached %s", p, err, cached)
	}
	onPath := filepath.Join(dir, "minio")
	if err := os.WriteFile(onPath, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Find(); err != nil || p != onPath {
		t.Fatalf("Find = %q, %v; want %s on PATH", p, err, onPath)
	}
	t.Setenv("MODFERRY_MINIO", cached)
	if p, err := Find(); err != nil || p != cached {
		t.Fatalf("Find = %q, %v; want MODFERRY_MINIO", p, err)
	}
	t.Setenv("MODFERRY_MINIO", filepath.Join(dir, "absent"))
	if _, err := Find(); err == nil {
		t.Fatal("Find with MODFERRY_MINIO naming nothing succeeded")
	}
}
