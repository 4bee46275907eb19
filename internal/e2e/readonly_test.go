package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bindReadOnly makes a read-only bind mount of src on dst until the test
// ends (root bypasses permission bits, so only a read-only mount makes a
// directory read-only for the tests' root user too).
func bindReadOnly(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "--bind", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("this test bind-mounts a directory read-only and needs root with CAP_SYS_ADMIN: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dst).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dst).CombinedOutput(); err != nil {
		t.Fatalf("remounting %s read-only: %v\n%s", dst, err, out)
	}
	if err := os.WriteFile(filepath.Join(dst, "probe"), nil, 0o644); err == nil {
		t.Fatal("the read-only mount is writable")
	}
}

// TestReadOnlyStore serves a store on read-only media that has no lock
// files: serve starts and serves modules, audit verify works, and every
// change answers that the store is read-only.
func TestReadOnlyStore(t *testing.T) {
	slow(t)
	dir := t.TempDir()
	rw := filepath.Join(dir, "rw")
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"go.mod": "module corp.example/ro\n", "ro.go": "package ro\n"})
	admin := addToken(t, rw, "admin", "read,write,delete,admin")
	mf(t, "publish", "--store", rw, "corp.example/ro@v1.0.0", src)
	for _, lock := range []string{"audit/lock", "tokens/lock"} {
		if err := os.Remove(filepath.Join(rw, lock)); err != nil {
			t.Fatal(err)
		}
	}
	ro := filepath.Join(dir, "ro")
	bindReadOnly(t, rw, ro)

	out := mf(t, "audit", "verify", "--store", ro)
	if !strings.Contains(out, "4 entries, chain intact") {
		t.Errorf("audit verify on a read-only store:\n%s", out)
	}
	url := serve(t, ro)
	for _, p := range []string{"/corp.example/ro/@v/list", "/corp.example/ro/@v/v1.0.0.zip", "/api/v1/tokens"} {
		if code, body := httpDo(t, "GET", url+p, admin, ""); code != 200 {
			t.Errorf("GET %s from a read-only store: %d %s", p, code, body)
		}
	}
	if code, body := httpDo(t, "DELETE", url+"/api/v1/modules/corp.example/ro/@v/v1.0.0?reason=x", admin, ""); code != 503 || !strings.Contains(body, "read-only") {
		t.Errorf("HTTP delete on a read-only store: %d %s", code, body)
	}
	for _, args := range [][]string{
		{"publish", "--store", ro, "corp.example/ro@v1.1.0", src},
		{"token", "add", "--store", ro, "--name", "x", "--scope", "read"},
		{"delete", "--store", ro, "--reason", "r", "corp.example/ro@v1.0.0"},
	} {
		if out, err := mfErr(t, args...); err == nil || !strings.Contains(out, "read-only") {
			t.Errorf("modferry %s on a read-only store: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, lock := range []string{"audit/lock", "tokens/lock"} {
		if _, err := os.Stat(filepath.Join(rw, lock)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want no lock file", lock, err)
		}
	}
}
