package fillthrough_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/fillthrough"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// TestPrunedFetchedAgain: a version prune removed from the team proxy's
// store is fetched again when a client asks for it; one deleted on
// purpose keeps answering 410.
func TestPrunedFetchedAgain(t *testing.T) {
	ctx := context.Background()
	f := newFront(t)
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{})
	repo := &modules.Repo{Store: st}
	dep := module.Version{Path: "modferry.test/dep", Version: "v1.1.0"}
	lib := module.Version{Path: "modferry.test/lib", Version: "v1.0.0"}
	for _, v := range []module.Version{dep, lib} {
		if code, body := get(t, srv.URL+"/"+v.Path+"/@v/"+v.Version+".zip"); code != 200 {
			t.Fatalf("%s: %d %s", v, code, body)
		}
	}
	now := time.Now().UTC()
	if err := repo.Delete(ctx, dep, modules.GoneRecord{Time: now, Actor: "test", Reason: "pruned: unused", Pruned: true}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Delete(ctx, lib, modules.GoneRecord{Time: now, Actor: "test", Reason: "withdrawn"}); err != nil {
		t.Fatal(err)
	}
	// The proxy's cache of small files rechecks the store within a second.
	time.Sleep(1100 * time.Millisecond)
	code, body := get(t, srv.URL+"/modferry.test/dep/@v/v1.1.0.zip")
	if code != 200 {
		t.Fatalf("pruned version: %d %s", code, body)
	}
	if c := f.count("/modferry.test/dep/@v/v1.1.0.zip"); c != 2 {
		t.Errorf("upstream got %d requests for the pruned zip; want 2", c)
	}
	if g, err := repo.IsGone(ctx, dep); err != nil || g != nil {
		t.Errorf("the pruned record stays: %+v, %v", g, err)
	}
	if vs, err := repo.List(ctx, dep.Path); err != nil || !strings.Contains(strings.Join(vs, " "), "v1.1.0") {
		t.Errorf("list %v, %v", vs, err)
	}
	code, body = get(t, srv.URL+"/modferry.test/lib/@v/v1.0.0.zip")
	if code != http.StatusGone || !strings.Contains(string(body), "withdrawn") {
		t.Fatalf("deleted version: %d %s", code, body)
	}
}

// countingStore counts the objects opened, by name.
type countingStore struct {
	*store.Mem
	mu     sync.Mutex
	opened map[string]int
}

func (c *countingStore) Open(ctx context.Context, name string) (store.File, error) {
	c.mu.Lock()
	c.opened[name]++
	c.mu.Unlock()
	return c.Mem.Open(ctx, name)
}

// TestHitAsksTheStoreOnce: a version the store holds is answered by the
// store's own handler, with its caches, and nothing is looked up in the
// store first (a deletion record, each file's existence): on S3 those
// were four requests before every hit.
func TestHitAsksTheStoreOnce(t *testing.T) {
	f := newFront(t)
	st := &countingStore{Mem: store.NewMem(), opened: map[string]int{}}
	srv := proxyServer(t, f, st, fillthrough.Options{})
	u := srv.URL + "/modferry.test/dep/@v/v1.1.0.info"
	// The miss: the store's 404 is kept back, headers too, and the
	// answer after the fill is the store's 200 with its own headers.
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Content-Type-Options") != "" {
		t.Fatalf("fill: %d %v", resp.StatusCode, resp.Header)
	}
	st.mu.Lock()
	clear(st.opened)
	st.mu.Unlock()
	for range 5 {
		if code, body := get(t, u); code != 200 {
			t.Fatalf("hit: %d %s", code, body)
		}
	}
	st.mu.Lock()
	for name, n := range st.opened {
		if strings.HasSuffix(name, ".gone") || strings.HasSuffix(name, ".mod") || n > 1 {
			t.Errorf("five hits of the .info opened %s %d times", name, n)
		}
	}
	st.mu.Unlock()
	if c := f.count("/modferry.test/dep/@v/v1.1.0.info"); c != 1 {
		t.Errorf("upstream got %d requests for the .info; want 1", c)
	}
	// A HEAD, which the store's handler answers with headers alone.
	for _, ext := range []string{".info", ".mod", ".zip"} {
		resp, err := http.Head(srv.URL + "/modferry.test/dep/@v/v1.1.0" + ext)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") == "" || resp.Header.Get("Etag") == "" || resp.ContentLength <= 0 {
			t.Errorf("HEAD %s: %d, Content-Length %d, %v", ext, resp.StatusCode, resp.ContentLength, resp.Header)
		}
	}
}

// flakyKeyStore fails the first read of the checksum database's key, as
// a store that is unreachable for a moment does.
type flakyKeyStore struct {
	*store.Mem
	mu     sync.Mutex
	failed bool
}

func (s *flakyKeyStore) Open(ctx context.Context, name string) (store.File, error) {
	s.mu.Lock()
	fail := !s.failed && strings.HasPrefix(name, "sumdb/") && strings.HasSuffix(name, "/key")
	s.failed = s.failed || fail
	s.mu.Unlock()
	if fail {
		return nil, errors.New("store unreachable for a moment")
	}
	return s.Mem.Open(ctx, name)
}

// TestKeyErrorNotKept: one failure to save the checksum database's key
// fails that fill only; the next fill tries again (it used to keep the
// error until the server restarted).
func TestKeyErrorNotKept(t *testing.T) {
	f := newFront(t)
	st := &flakyKeyStore{Mem: store.NewMem()}
	srv := proxyServer(t, f, st, fillthrough.Options{})
	u := srv.URL + "/modferry.test/dep/@v/v1.1.0.zip"
	if code, _ := get(t, u); code == http.StatusOK {
		t.Fatal("the fill succeeded although the store failed")
	}
	if code, body := get(t, u); code != http.StatusOK {
		t.Fatalf("the fill after a transient store error: %d %s", code, body)
	}
}

// TestListsJoinTheStore: the list and @latest of a module published here
// (which the upstream does not know: 404) come from the store; a version
// deleted here on purpose leaves the list, and @latest falls back to the
// store's when the upstream's names it.
func TestListsJoinTheStore(t *testing.T) {
	ctx := context.Background()
	f := newFront(t)
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{})
	repo := &modules.Repo{Store: st}
	priv := module.Version{Path: "corp.example/m", Version: "v1.0.0"}
	err := repo.Add(ctx, priv, modules.Files{
		Info: strings.NewReader(`{"Version":"v1.0.0","Time":"2026-01-02T03:04:05Z"}`),
		Mod:  strings.NewReader("module corp.example/m\n"),
		Zip:  strings.NewReader("zip"), ZipHash: "h1:x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv.URL+"/corp.example/m/@v/list"); code != 200 || string(body) != "v1.0.0\n" {
		t.Errorf("list of a module published here: %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/corp.example/m/@latest"); code != 200 || !strings.Contains(string(body), `"v1.0.0"`) {
		t.Errorf("@latest of a module published here: %d %q", code, body)
	}
	for _, v := range []string{"v1.1.0", "v1.2.0"} {
		if code, body := get(t, srv.URL+"/modferry.test/lib/@v/"+v+".zip"); code != 200 {
			t.Fatalf("%s: %d %s", v, code, body)
		}
	}
	_, upstreamLatest := get(t, srv.URL+"/modferry.test/lib/@latest")
	if !strings.Contains(string(upstreamLatest), `"v1.2.0"`) {
		t.Fatalf("the fixture's @latest is %s; the test wants v1.2.0", upstreamLatest)
	}
	if err := repo.Delete(ctx, module.Version{Path: "modferry.test/lib", Version: "v1.2.0"}, modules.GoneRecord{Time: time.Now(), Actor: "test", Reason: "withdrawn"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the store handler's caches look again
	srv2 := proxyServer(t, f, st, fillthrough.Options{})
	code, body := get(t, srv2.URL+"/modferry.test/lib/@v/list")
	if code != 200 || strings.Contains(string(body), "v1.2.0") || !strings.Contains(string(body), "v1.1.0") {
		t.Errorf("list after a delete: %d %q", code, body)
	}
	if code, body := get(t, srv2.URL+"/modferry.test/lib/@latest"); code != 200 || !strings.Contains(string(body), `"v1.1.0"`) {
		t.Errorf("@latest after the upstream's latest was deleted here: %d %q", code, body)
	}
}
