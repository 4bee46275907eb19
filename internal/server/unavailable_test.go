package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/trust"
)

// downStore is a store.Mem that, while down is set, fails every call as
// an object store whose endpoint is unreachable does.
type downStore struct {
	*store.Mem
	down atomic.Bool
}

var errDown = fmt.Errorf("s3 open: S3 endpoint http://127.0.0.1:1 unavailable: connection refused: %w", store.ErrUnavailable)

func (d *downStore) Open(ctx context.Context, name string) (store.File, error) {
	if d.down.Load() {
		return nil, errDown
	}
	return d.Mem.Open(ctx, name)
}

func (d *downStore) List(ctx context.Context, dir string) ([]string, error) {
	if d.down.Load() {
		return nil, errDown
	}
	return d.Mem.List(ctx, dir)
}

func (d *downStore) Get(ctx context.Context, name string) ([]byte, string, error) {
	if d.down.Load() {
		return nil, "", errDown
	}
	return d.Mem.Get(ctx, name)
}

// TestStoreUnavailable: while the store cannot be reached, module files,
// checksum-database lookups and the API answer 503 with a reason and
// Retry-After (not 500, not 404); once it is back, the same requests
// succeed without a restart.
func TestStoreUnavailable(t *testing.T) {
	key, pub := bundletest.NewKey(t)
	root := t.TempDir()
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
	st := &downStore{Mem: store.NewMem()}
	srv := New(Config{
		Store: st, Tokens: tk, Audit: al, TempDir: t.TempDir(),
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		BundleTrust: trust.Policy{Keys: &trust.Keys{Minisign: []sign.PublicKey{pub}}},
	})
	f := &fixture{srv: srv, root: root, tokens: tk, audit: al}
	tok := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	m := bundletest.Write(t, b, bundletest.RandomModules(2, 1, 1000), key)
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.do(req{method: "POST", path: api.BundlesPath, token: tok, body: bytes.NewReader(data)}), 200, "upload")
	mod := m.Modules[0]
	paths := []string{
		"/" + mod.Path + "/@v/" + mod.Version + ".zip",
		"/" + mod.Path + "/@v/list",
		"/" + mod.Path + "/@latest",
		"/api/v1/modules/" + mod.Path + "/@v/" + mod.Version,
	}
	st.down.Store(true)
	for _, p := range paths {
		w := f.do(req{path: p, token: tok})
		wantCode(t, w, 503, p+" with the store down")
		if w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "cannot be reached") {
			t.Errorf("%s: 503 without Retry-After or reason: %v %q", p, w.Header(), w.Body.String())
		}
	}
	st.down.Store(false)
	for _, p := range paths {
		wantCode(t, f.do(req{path: p, token: tok}), 200, p+" once the store is back")
	}
}
