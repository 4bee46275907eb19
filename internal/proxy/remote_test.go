package proxy_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/proxy"
	"github.com/modferry/modferry/internal/store"
)

// remoteStore is a store kept elsewhere, as an S3 store is: not Local, with
// StatVersion and Stat, and it counts the requests each kind of call
// would make to the object store.
type remoteStore struct {
	*store.Mem
	mu    sync.Mutex
	calls map[string]int // "open", "stat", "statversion", by name
	names map[string]int // calls by object name
}

func newRemoteStore() *remoteStore {
	return &remoteStore{Mem: store.NewMem(), calls: map[string]int{}, names: map[string]int{}}
}

func (s *remoteStore) count(op, name string) {
	s.mu.Lock()
	s.calls[op]++
	s.names[name]++
	s.mu.Unlock()
}

func (s *remoteStore) Open(ctx context.Context, name string) (store.File, error) {
	s.count("open", name)
	return s.Mem.Open(ctx, name)
}

func (s *remoteStore) StatVersion(ctx context.Context, name string) (string, error) {
	s.count("statversion", name)
	_, v, err := s.Get(ctx, name)
	return v, err
}

func (s *remoteStore) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	s.count("stat", name)
	f, err := s.Mem.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// requests returns the requests made so far, all kinds, and resets the
// counts.
func (s *remoteStore) requests() (total int, byOp map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byOp = s.calls
	for _, n := range byOp {
		total += n
	}
	s.calls, s.names = map[string]int{}, map[string]int{}
	return total, byOp
}

var remoteVersions = []module.Version{
	{Path: "modferry.test/a", Version: "v1.0.0"},
	{Path: "modferry.test/a", Version: "v1.1.0"},
	{Path: "modferry.test/b", Version: "v0.1.0"},
}

func zipOf(v module.Version) []byte {
	return bytes.Repeat([]byte("zip of "+v.String()+"\n"), 1000)
}

func addRemote(t *testing.T, repo *modules.Repo) {
	t.Helper()
	for _, v := range remoteVersions {
		if err := repo.Add(context.Background(), v, modules.Files{
			Info: strings.NewReader(`{"Version":"` + v.Version + `"}`),
			Mod:  strings.NewReader("module " + v.Path + "\n"),
			Zip:  bytes.NewReader(zipOf(v)), ZipHash: "h1:fake",
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// replica is one server (Handler) on the shared remote store.
type replica struct {
	url   string
	h     *proxy.Handler
	cache *proxy.ZipCache
}

func startReplica(t *testing.T, st store.Store, opts proxy.Options, zipCache bool) *replica {
	t.Helper()
	r := &replica{}
	if zipCache {
		c, err := proxy.OpenZipCache(t.TempDir(), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		opts.ZipCache, r.cache = c, c
	}
	r.h = proxy.New(&modules.Repo{Store: st}, opts)
	ts := httptest.NewServer(r.h)
	t.Cleanup(ts.Close)
	r.url = ts.URL
	return r
}

func fileURLs(v module.Version) []string {
	p := "/" + v.Path + "/@v/" + v.Version
	return []string{p + ".info", p + ".mod", p + ".zip"}
}

// TestRemoteStoreRequests: on a store kept elsewhere, once a file has
// been confirmed, serving it again costs no request to the store but one
// look at the removal stamp per Recheck interval, however many requests
// come; with the zip cache, a zip is read from the store once.
func TestRemoteStoreRequests(t *testing.T) {
	for _, zipCache := range []bool{false, true} {
		t.Run(map[bool]string{false: "streamed", true: "zip cache"}[zipCache], func(t *testing.T) {
			st := newRemoteStore()
			addRemote(t, &modules.Repo{Store: st})
			recheck := 50 * time.Millisecond
			r := startReplica(t, st, proxy.Options{Recheck: recheck}, zipCache)
			for _, v := range remoteVersions {
				for _, u := range fileURLs(v) {
					if code, _ := get(t, r.url+u); code != 200 {
						t.Fatalf("%s: %d", u, code)
					}
				}
			}
			first, ops := st.requests()
			t.Logf("first round: %d store requests for %d files: %v", first, 3*len(remoteVersions), ops)

			// Many rounds, each after the recheck interval: without the
			// stamp every one of them would ask the store again.
			const rounds = 5
			for range rounds {
				time.Sleep(recheck + 10*time.Millisecond)
				for _, v := range remoteVersions {
					for _, u := range fileURLs(v) {
						code, b := get(t, r.url+u)
						if code != 200 {
							t.Fatalf("%s: %d", u, code)
						}
						if strings.HasSuffix(u, ".zip") && !bytes.Equal(b, zipOf(v)) {
							t.Fatalf("%s: wrong bytes", u)
						}
					}
				}
			}
			n, ops := st.requests()
			wantOpens := 0
			if !zipCache {
				wantOpens = rounds * len(remoteVersions) // each zip streamed from the store
			}
			if ops["open"] != wantOpens || ops["stat"] != 0 || ops["statversion"] > rounds+1 {
				t.Errorf("%d rounds of %d requests made %d store requests %v; want %d opens (zips streamed), no stat, at most %d stamp looks",
					rounds, 3*len(remoteVersions), n, ops, wantOpens, rounds+1)
			}
			if zipCache && r.h.ZipCacheServed() != int64((rounds+1)*len(remoteVersions)) {
				t.Errorf("zips served from the cache: %d, want %d", r.h.ZipCacheServed(), (rounds+1)*len(remoteVersions))
			}
		})
	}
}

// TestRemoteDeleteReachesReplicas: a version deleted (modules.Repo.Delete,
// as delete and prune do, from another process) answers 410 on every
// replica within the recheck interval, although each had confirmed and
// cached its files, and its zip copies leave the zip caches. A file removed
// behind modferry's back (no stamp) is served until MaxAge, not beyond.
func TestRemoteDeleteReachesReplicas(t *testing.T) {
	st := newRemoteStore()
	repo := &modules.Repo{Store: st}
	addRemote(t, repo)
	recheck, maxAge := 50*time.Millisecond, 400*time.Millisecond
	var reps []*replica
	for i := range 3 {
		reps = append(reps, startReplica(t, st, proxy.Options{Recheck: recheck, MaxAge: maxAge}, i != 2))
	}
	serveAll := func() {
		for _, r := range reps {
			for _, v := range remoteVersions {
				for _, u := range fileURLs(v) {
					if code, _ := get(t, r.url+u); code != 200 {
						t.Fatalf("%s%s: %d", r.url, u, code)
					}
				}
			}
		}
	}
	serveAll()
	time.Sleep(recheck + 10*time.Millisecond)
	serveAll() // confirmed in the current generation, from the caches

	gone := remoteVersions[0]
	if err := repo.Delete(context.Background(), gone, modules.GoneRecord{Time: time.Now(), Reason: "licence"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(recheck + 10*time.Millisecond)
	for _, r := range reps {
		for _, u := range fileURLs(gone) {
			if code, b := get(t, r.url+u); code != http.StatusGone || !strings.Contains(string(b), "licence") {
				t.Errorf("%s%s after the deletion: %d (%d bytes), want 410 with the reason", r.url, u, code, len(b))
			}
		}
		if r.cache != nil {
			ents, _ := os.ReadDir(r.cache.Dir())
			for _, e := range ents {
				if e.Name() != "lock" {
					if b, _ := os.ReadFile(filepath.Join(r.cache.Dir(), e.Name())); bytes.Equal(b, zipOf(gone)) {
						t.Errorf("the zip cache %s still holds the deleted zip", r.cache.Dir())
					}
				}
			}
		}
	}
	// The others still serve.
	for _, r := range reps {
		for _, u := range fileURLs(remoteVersions[1]) {
			if code, _ := get(t, r.url+u); code != 200 {
				t.Errorf("%s%s: %d", r.url, u, code)
			}
		}
	}

	// Behind modferry's back: the objects go, the stamp stays.
	behind := remoteVersions[2]
	for _, u := range fileURLs(behind) {
		get(t, reps[0].url+u) // confirm now
	}
	for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
		name, _ := modfiles.Name(behind, k)
		if err := st.Delete(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(maxAge + 10*time.Millisecond)
	for _, u := range fileURLs(behind) {
		if code, _ := get(t, reps[0].url+u); code != http.StatusNotFound {
			t.Errorf("%s%s removed behind modferry's back, after MaxAge: %d, want 404", reps[0].url, u, code)
		}
	}
}

// TestRemotePendingNotTrusted: the zip of a version whose publish is
// pending is not served, and one whose .info is missing is served but
// not trusted (asked of the store again at the next request).
func TestRemotePendingNotTrusted(t *testing.T) {
	st := newRemoteStore()
	repo := &modules.Repo{Store: st}
	addRemote(t, repo)
	v := remoteVersions[1]
	r := startReplica(t, st, proxy.Options{Recheck: 10 * time.Millisecond}, true)
	u := fileURLs(v)[2]
	info, _ := modfiles.Name(v, modfiles.Info)
	if err := st.Delete(context.Background(), info); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		time.Sleep(20 * time.Millisecond)
		if code, _ := get(t, r.url+u); code != 200 {
			t.Fatalf("zip without .info: %d", code)
		}
	}
	if _, ops := st.requests(); ops["stat"] < 2 {
		t.Errorf("a zip without .info was trusted: %v", ops)
	}
	pending, _ := modfiles.PendingName(v)
	if err := st.Put(context.Background(), pending, strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if code, _ := get(t, r.url+u); code != http.StatusNotFound {
		t.Errorf("zip of a pending publish: %d, want 404", code)
	}
}

// downStamp is a remoteStore whose removal stamp cannot be looked at.
type downStamp struct{ *remoteStore }

func (s downStamp) StatVersion(ctx context.Context, name string) (string, error) {
	s.count("statversion", name)
	return "", store.ErrUnavailable
}

// TestRemoteStampUnavailable: while the stamp cannot be looked at,
// nothing is trusted beyond Recheck (every file is confirmed with the
// store again, and still served), and the failing look is not retried by
// every request but once per interval.
func TestRemoteStampUnavailable(t *testing.T) {
	st := downStamp{newRemoteStore()}
	addRemote(t, &modules.Repo{Store: st})
	recheck := 200 * time.Millisecond
	r := startReplica(t, st, proxy.Options{Recheck: recheck}, true)
	urls := fileURLs(remoteVersions[0])
	for _, u := range urls {
		get(t, r.url+u)
	}
	time.Sleep(recheck + 10*time.Millisecond)
	st.requests()
	for range 3 {
		for _, u := range urls {
			if code, _ := get(t, r.url+u); code != 200 {
				t.Errorf("%s with the stamp unavailable: %d, want 200", u, code)
			}
		}
	}
	_, ops := st.requests()
	if ops["statversion"] != 1 {
		t.Errorf("%d looks at the unavailable stamp within one interval, want 1", ops["statversion"])
	}
	if ops["open"]+ops["stat"] < len(urls) {
		t.Errorf("files served without confirming them while the stamp is unavailable: %v", ops)
	}
}
