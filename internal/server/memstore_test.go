package server

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/trust"
)

// TestBundleUploadIntoMem uploads a bundle to a server whose store is
// not on the local filesystem (store.Mem): it is imported (staged in the
// server's TempDir, then written through Put), served, and leaves no
// stage behind.
func TestBundleUploadIntoMem(t *testing.T) {
	key, pub := bundletest.NewKey(t)
	root, scratch := t.TempDir(), t.TempDir()
	tk, err := auth.Open(filepath.Join(root, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tk.Close() })
	al, err := audit.Open(filepath.Join(root, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	mem := store.NewMem()
	srv := New(Config{
		Store: mem, Tokens: tk, Audit: al, TempDir: scratch,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		BundleTrust: trust.Policy{Keys: &trust.Keys{Minisign: []sign.PublicKey{pub}}},
	})
	f := &fixture{srv: srv, root: root, tokens: tk, audit: al}
	w := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	m := bundletest.Write(t, b, bundletest.RandomModules(5, 3, 1000), key)
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.do(req{method: "POST", path: api.BundlesPath, token: w, body: bytes.NewReader(data)}), 200, "upload")
	for _, mod := range m.Modules {
		wantCode(t, f.do(req{path: "/" + mod.Path + "/@v/" + mod.Version + ".info", token: w}), 200, mod.Path+" .info")
		wantCode(t, f.do(req{path: "/" + mod.Path + "/@v/" + mod.Version + ".zip", token: w}), 200, mod.Path+" .zip")
	}
	if ents, _ := os.ReadDir(importer.StagingPath(mem, importer.Options{ScratchDir: scratch})); len(ents) != 0 {
		t.Errorf("stages left behind: %d", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(root, importer.StagingDir)); len(ents) != 0 {
		t.Errorf("a store kept elsewhere staged beside its tokens: %d", len(ents))
	}
}
