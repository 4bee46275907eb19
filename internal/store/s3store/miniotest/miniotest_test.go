package miniotest

import (
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
