package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
)

// TestSpoolCleansKilledCopies: the copy of a bundle read from standard
// input that a killed import left is removed by the next import; the
// copy of an import still running (locked) stays.
func TestSpoolCleansKilledCopies(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	old := time.Now().Add(-time.Hour)
	stale := filepath.Join(tmp, "modferry-stdin-1.tar.zst")
	if err := os.WriteFile(stale, []byte("left by a killed import"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(stale, old, old)
	running, err := scratch.CreateTemp(tmp, spoolPattern)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	os.Chtimes(running.Name(), old, old)

	p, done, err := spool(store.NewMem(), strings.NewReader("bundle"))
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the killed import's copy survived: %v", err)
	}
	if _, err := os.Stat(running.Name()); err != nil {
		t.Errorf("the running import's copy was removed: %v", err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "bundle" {
		t.Errorf("spooled %q, %v", b, err)
	}
}

// TestReadSignatureFile: a parts index's signature file is read only as
// a regular file of a signature's size; a symlink to /dev/zero or a huge
// file is refused before it is read whole.
func TestReadSignatureFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "b.tar.zst.parts.minisig")
	if err := os.WriteFile(good, []byte("untrusted comment: x\nRWQ...\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := readSignatureFile(good); err != nil || len(b) == 0 {
		t.Errorf("a signature file: %q, %v", b, err)
	}
	zero := filepath.Join(dir, "zero.asc")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Skip(err)
	}
	if _, err := readSignatureFile(zero); err == nil {
		t.Error("a symlink to /dev/zero was read")
	}
	big := filepath.Join(dir, "big.asc")
	if err := os.WriteFile(big, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSignatureFile(big); err == nil {
		t.Error("a 1 MiB signature file was read")
	}
}

// TestEmptyPassphraseRefused: a passphrase variable that is set but
// empty (a CI secret that did not arrive) is an error, not an
// unencrypted key.
func TestEmptyPassphraseRefused(t *testing.T) {
	t.Setenv(passphraseEnv, "")
	if p, err := newPassphrase(); err == nil {
		t.Fatalf("an empty $%s gave passphrase %q", passphraseEnv, p)
	}
	t.Setenv(passphraseEnv, "s3cret")
	if p, err := newPassphrase(); err != nil || string(p) != "s3cret" {
		t.Fatalf("passphrase %q, %v", p, err)
	}
}

// TestServerURLChecked: --server must be an http(s) URL; a bare
// host:port is a usage error naming what to give, for every verb that
// takes one (before, the HTTP client's "unsupported protocol scheme").
func TestServerURLChecked(t *testing.T) {
	for _, s := range []string{"localhost:38411", "example.com", "ftp://example.com", ""} {
		err := checkServerURL(s)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "want an http:// or https:// URL") {
			t.Errorf("--server %q: %v", s, err)
		}
	}
	for _, s := range []string{"http://127.0.0.1:8080", "https://modferry.corp.example/"} {
		if err := checkServerURL(s); err != nil {
			t.Errorf("--server %q: %v", s, err)
		}
	}
}
