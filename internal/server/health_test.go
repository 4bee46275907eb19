package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/publish"
	"github.com/modferry/modferry/internal/store"
)

// countedDownStore is a store.Mem that fails, while down is set, as an
// object store out of reach does, and counts the listings made of it.
type countedDownStore struct {
	*store.Mem
	down  atomic.Bool
	lists atomic.Int32
}

func (d *countedDownStore) List(ctx context.Context, dir string) ([]string, error) {
	d.lists.Add(1)
	if d.down.Load() {
		return nil, errDown
	}
	return d.Mem.List(ctx, dir)
}

// TestHealthzChecksStore: /healthz, open to requests without a token,
// answers 503 with a one-line reason and Retry-After while the store
// cannot be reached, and 200 "ok" otherwise; a storm of probes costs at
// most one store request per healthTTL.
func TestHealthzChecksStore(t *testing.T) {
	st := &countedDownStore{Mem: store.NewMem()}
	tk, err := auth.Open(filepath.Join(t.TempDir(), "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tk.Close() })
	f := &fixture{srv: New(Config{Store: st, Tokens: tk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), tokens: tk}
	f.add(t, "r", auth.ScopeRead) // tokens exist: everything else needs one

	w := f.do(req{path: "/healthz"})
	wantCode(t, w, 200, "healthz with the store up")
	if w.Body.String() != "ok\n" {
		t.Errorf("healthz = %q, want ok", w.Body)
	}

	st.down.Store(true)
	time.Sleep(healthTTL + 100*time.Millisecond) // the cached "ok" runs out
	w = f.do(req{path: "/healthz"})
	wantCode(t, w, 503, "healthz with the store down")
	body := w.Body.String()
	if !strings.Contains(body, "the store cannot be reached") || strings.Count(body, "\n") != 1 || len(body) > maxReason+1 || w.Header().Get("Retry-After") == "" {
		t.Errorf("healthz with the store down: %q, Retry-After %q; want one short line with the reason", body, w.Header().Get("Retry-After"))
	}
	// Without a token: the kind of failure, not the endpoint or paths.
	if strings.Contains(body, "127.0.0.1") || !strings.Contains(body, "unavailable") {
		t.Errorf("healthz with the store down: %q; want the kind of failure and no endpoint", body)
	}
	w = f.do(req{path: "/healthz?verbose"})
	wantCode(t, w, 503, "healthz?verbose with the store down")
	var h Health
	if err := json.Unmarshal(w.Body.Bytes(), &h); err != nil || h.Status != "unavailable" || h.Service != "modferry" || !strings.Contains(h.Reason, "cannot be reached") {
		t.Errorf("healthz?verbose with the store down: %v %+v", err, h)
	}

	// A probe storm within one healthTTL: one store request at most
	// (two if the cached outcome ran out in the middle).
	st.lists.Store(0)
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := f.do(req{path: "/healthz"}); w.Code != 503 {
				t.Errorf("healthz in a storm: %d", w.Code)
			}
		}()
	}
	wg.Wait()
	if n := st.lists.Load(); n > 2 {
		t.Errorf("200 probes made %d store requests; want at most one per %s", n, healthTTL)
	}

	st.down.Store(false)
	time.Sleep(healthTTL + 100*time.Millisecond)
	wantCode(t, f.do(req{path: "/healthz"}), 200, "healthz once the store is back")
}

// TestDeleteWhileImportRuns: a delete that finds the import lock held
// answers 503 with Retry-After, saying an import is running, after
// publish.LockWait, and changes nothing.
func TestDeleteWhileImportRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("waits publish.LockWait")
	}
	f := newFixture(t, Config{})
	del := f.add(t, "deleter", auth.ScopeDelete, auth.ScopeRead)
	held, err := store.LockImport(context.Background(), f.st, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w := f.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=x", token: del})
	took := time.Since(start)
	held.Unlock()
	wantCode(t, w, 503, "delete while an import holds the lock")
	if w.Header().Get("Retry-After") != publish.LockRetryAfter || !strings.Contains(w.Body.String(), "an import is running") || took > publish.LockWait+5*time.Second {
		t.Errorf("delete while an import runs: after %s, Retry-After %q, %s", took, w.Header().Get("Retry-After"), w.Body)
	}
	wantCode(t, f.do(req{path: "/corp.example/a/@v/v1.0.0.info", token: del}), 200, "the version after the refused delete")
	wantCode(t, f.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=x", token: del}), 200, "delete once the import is done")
}
