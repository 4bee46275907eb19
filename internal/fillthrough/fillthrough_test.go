package fillthrough_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/fillthrough"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/server"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/testupstream"
)

const dbName = "sum.fill.test"

// front is the upstream a fill-through proxy talks to: the test GOPROXY,
// with the test checksum database under /sumdb/<name>/ as proxies serve
// it, counting requests, and with faults to turn on.
type front struct {
	up  *testupstream.Upstream
	sdb *checksumdbtest.DB
	URL string

	mu       sync.Mutex
	counts   map[string]int
	down     int               // nonzero: answer every request with this status
	slow     time.Duration     // delay before answering
	replaced map[string][]byte // request path -> body served instead
	statuses map[string]int    // request path -> error status answered instead
}

func newFront(t *testing.T) *front {
	t.Helper()
	f := &front{up: testupstream.New(t), counts: map[string]int{}, replaced: map[string][]byte{}, statuses: map[string]int{}}
	f.sdb = checksumdbtest.New(t, dbName, f.up.Dir, 40)
	target, _ := url.Parse(f.sdb.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.counts[r.URL.Path]++
		down, slow, body := f.down, f.slow, f.replaced[r.URL.Path]
		if st := f.statuses[r.URL.Path]; st != 0 {
			down = st
		}
		f.mu.Unlock()
		if slow > 0 {
			time.Sleep(slow)
		}
		if down != 0 {
			http.Error(w, "test upstream is down", down)
			return
		}
		if body != nil {
			w.Write(body)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+dbName+"/"); ok {
			if rest == "supported" {
				return
			}
			r.URL.Path = "/" + rest
			rp.ServeHTTP(w, r)
			return
		}
		f.up.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *front) count(p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[p]
}

func (f *front) setDown(status int) {
	f.mu.Lock()
	f.down = status
	f.mu.Unlock()
}

// proxyServer serves st as a fill-through proxy of f.
func proxyServer(t *testing.T, f *front, st store.Store, o fillthrough.Options) *httptest.Server {
	t.Helper()
	o.Upstream, o.SumDB = f.URL, f.sdb.Key
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	filler, err := fillthrough.New(st, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Store: st, Upstream: filler}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func has(t *testing.T, st store.Store, v module.Version, k modfiles.Kind) bool {
	t.Helper()
	name, err := modfiles.Name(v, k)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := store.Exists(context.Background(), st, name)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// goEnv is a go client of the proxy at u, verifying against the test
// checksum database through the proxy.
func goEnv(t *testing.T, u string, f *front) []string {
	return append(testupstream.GoEnv(t, u), "GOSUMDB="+f.sdb.Key, "GONOSUMDB=", "GOPRIVATE=", "GONOSUMCHECK=", "GOINSECURE=")
}

// TestGoBuildThroughProxy builds a project with the real go command
// through the fill-through proxy, checksum database on; a second fresh
// client then builds from what was stored, with no zip fetched again.
func TestGoBuildThroughProxy(t *testing.T) {
	f := newFront(t)
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{})
	dir := t.TempDir()
	testupstream.WriteProject(t, "app", dir)
	env1 := goEnv(t, srv.URL, f)
	if _, err := testupstream.RunGo(t, dir, env1, "build", "./..."); err != nil {
		t.Fatal(err)
	}
	lib := module.Version{Path: "modferry.test/lib", Version: "v1.0.0"}
	for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip, modfiles.ZipHash} {
		if !has(t, st, lib, k) {
			t.Errorf("store lacks %s's %s after the build", lib, k)
		}
	}
	// The proof the fill verified is kept in the store.
	if ok, _ := store.Exists(context.Background(), st, "sumdb/"+dbName+"/latest"); !ok {
		t.Errorf("store holds no checksum-database head after the build")
	}
	zips := func() int {
		n := 0
		f.mu.Lock()
		defer f.mu.Unlock()
		for p, c := range f.counts {
			if strings.HasSuffix(p, ".zip") {
				n += c
			}
		}
		return n
	}
	before := zips()
	if before == 0 {
		t.Fatal("no zip fetched from the upstream")
	}
	dir2 := t.TempDir()
	testupstream.WriteProject(t, "app", dir2)
	env2 := goEnv(t, srv.URL, f)
	for _, kv := range env1 {
		if strings.HasPrefix(kv, "GOCACHE=") {
			env2 = append(env2, kv) // the build cache is not what is tested: share it
		}
	}
	if _, err := testupstream.RunGo(t, dir2, env2, "build", "./..."); err != nil {
		t.Fatal(err)
	}
	if after := zips(); after != before {
		t.Errorf("second build fetched %d zips from the upstream; want none", after-before)
	}
}

// TestOneFetchPerFile asks for one zip from many clients at once: the
// upstream sees one request for it.
func TestOneFetchPerFile(t *testing.T) {
	f := newFront(t)
	f.slow = 50 * time.Millisecond // let the requests pile up
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{})
	const n = 24
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/modferry.test/dep/@v/v1.1.0.zip")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != n {
		t.Errorf("%d of %d requests got 200", ok.Load(), n)
	}
	for _, p := range []string{"/modferry.test/dep/@v/v1.1.0.zip", "/modferry.test/dep/@v/v1.1.0.mod", "/modferry.test/dep/@v/v1.1.0.info"} {
		if c := f.count(p); c != 1 {
			t.Errorf("upstream got %d requests for %s; want 1", c, p)
		}
	}
	// The fill is stamped for the catalogs of the servers on the store.
	if stamp, err := store.ReadAll(context.Background(), st, modules.AdditionStamp); err != nil || !strings.Contains(string(stamp), "modferry.test/dep@v1.1.0") {
		t.Errorf("addition stamp after the fill = %q, %v", stamp, err)
	}
}

// tamper returns the zip of v in dir with one file's content changed:
// a valid module zip whose hash the checksum database does not have.
func tamper(t *testing.T, dir string, v module.Version) []byte {
	t.Helper()
	p, _ := modfiles.ProxyPath(v, modfiles.Zip)
	zr, err := zip.OpenReader(filepath.Join(dir, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, zf := range zr.File {
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := zf.Open()
		io.Copy(w, rc)
		rc.Close()
		if i == 0 {
			io.WriteString(w, "\n// tampered\n")
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTamperedZipRefused: a zip whose hash differs from the checksum
// database's is answered 502 and not stored; a private module is not
// checked.
func TestTamperedZipRefused(t *testing.T) {
	f := newFront(t)
	v := module.Version{Path: "modferry.test/dep", Version: "v1.0.0"}
	f.replaced["/modferry.test/dep/@v/v1.0.0.zip"] = tamper(t, f.up.Dir, v)
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{})
	code, body := get(t, srv.URL+"/modferry.test/dep/@v/v1.0.0.zip")
	if code != http.StatusBadGateway || !strings.Contains(string(body), "SECURITY ERROR") {
		t.Errorf("tampered zip: %d %s; want 502 naming a security error", code, body)
	}
	if has(t, st, v, modfiles.Zip) || has(t, st, v, modfiles.ZipHash) {
		t.Errorf("tampered zip was stored")
	}
	// The go.mod is genuine: it is stored, and served.
	if code, _ := get(t, srv.URL+"/modferry.test/dep/@v/v1.0.0.mod"); code != 200 {
		t.Errorf(".mod of the tampered version: %d; want 200", code)
	}

	// The same zip for a module matching the private patterns is taken
	// as the upstream serves it.
	st2 := store.NewMem()
	srv2 := proxyServer(t, f, st2, fillthrough.Options{Private: "modferry.test/dep"})
	if code, body := get(t, srv2.URL+"/modferry.test/dep/@v/v1.0.0.zip"); code != 200 {
		t.Errorf("private module: %d %s; want 200", code, body)
	}
	if !has(t, st2, v, modfiles.Zip) {
		t.Errorf("private module not stored")
	}
}

// TestUpstreamFailures: not found is 404, a down upstream 502, a slow one
// 504, none of them stored or remembered as "not found"; and the proxy
// recovers when the upstream does.
func TestUpstreamFailures(t *testing.T) {
	f := newFront(t)
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{Timeout: 300 * time.Millisecond, ListTTL: 50 * time.Millisecond})

	for _, p := range []string{"/modferry.test/nosuch/@v/v1.0.0.info", "/modferry.test/nosuch/@v/v1.0.0.zip", "/modferry.test/nosuch/@v/list", "/modferry.test/nosuch/@latest", "/modferry.test/lib/@v/v9.9.9.mod"} {
		if code, body := get(t, srv.URL+p); code != http.StatusNotFound {
			t.Errorf("%s: %d %s; want 404", p, code, body)
		}
	}

	// An upstream 410 is 410, and nothing is stored.
	f.mu.Lock()
	f.statuses["/modferry.test/retract/@v/v1.0.0.info"] = http.StatusGone
	f.mu.Unlock()
	if code, body := get(t, srv.URL+"/modferry.test/retract/@v/v1.0.0.zip"); code != http.StatusGone {
		t.Errorf("upstream 410: %d %s; want 410", code, body)
	}
	if has(t, st, module.Version{Path: "modferry.test/retract", Version: "v1.0.0"}, modfiles.Mod) {
		t.Errorf("a version the upstream answered 410 for was stored")
	}

	v := module.Version{Path: "modferry.test/lib", Version: "v1.1.0"}
	f.setDown(http.StatusServiceUnavailable)
	for _, p := range []string{"/modferry.test/lib/@v/v1.1.0.zip", "/modferry.test/lib/@v/v1.1.0.info", "/modferry.test/lib/@v/list", "/modferry.test/lib/@latest"} {
		if code, body := get(t, srv.URL+p); code != http.StatusBadGateway {
			t.Errorf("upstream down: %s: %d %s; want 502", p, code, body)
		}
	}
	f.setDown(0)
	f.mu.Lock()
	f.slow = time.Second
	f.mu.Unlock()
	if code, body := get(t, srv.URL+"/modferry.test/lib/@v/v1.1.0.zip"); code != http.StatusGatewayTimeout {
		t.Errorf("upstream slow: %d %s; want 504", code, body)
	}
	if has(t, st, v, modfiles.Info) || has(t, st, v, modfiles.Zip) {
		t.Errorf("something was stored while the upstream failed")
	}
	f.mu.Lock()
	f.slow = 0
	f.mu.Unlock()

	// Recovery, with nothing remembered of the failures.
	for _, p := range []string{"/modferry.test/lib/@v/v1.1.0.zip", "/modferry.test/lib/@v/list", "/modferry.test/lib/@latest"} {
		if code, body := get(t, srv.URL+p); code != 200 {
			t.Errorf("after recovery: %s: %d %s; want 200", p, code, body)
		}
	}
	if !has(t, st, v, modfiles.Zip) {
		t.Errorf("zip not stored after recovery")
	}

	// Down again: list and @latest come from the store.
	f.setDown(http.StatusBadGateway)
	time.Sleep(60 * time.Millisecond) // past ListTTL
	code, body := get(t, srv.URL+"/modferry.test/lib/@v/list")
	if code != 200 || strings.TrimSpace(string(body)) != "v1.1.0" {
		t.Errorf("list with the upstream down: %d %q; want the store's v1.1.0", code, body)
	}
	if code, body := get(t, srv.URL+"/modferry.test/lib/@latest"); code != 200 || !strings.Contains(string(body), "v1.1.0") {
		t.Errorf("@latest with the upstream down: %d %s", code, body)
	}
	if code, _ := get(t, srv.URL+"/modferry.test/lib/@v/v1.1.0.zip"); code != 200 {
		t.Errorf("stored zip with the upstream down: %d; want 200", code)
	}
}

// TestSumDBProxied: /sumdb/<name>/ answers from the upstream, with tiles
// and lookups fetched once.
func TestSumDBProxied(t *testing.T) {
	f := newFront(t)
	srv := proxyServer(t, f, store.NewMem(), fillthrough.Options{})
	if code, _ := get(t, srv.URL+"/sumdb/"+dbName+"/supported"); code != 200 {
		t.Errorf("supported: %d", code)
	}
	code, latest := get(t, srv.URL+"/sumdb/"+dbName+"/latest")
	if code != 200 || !bytes.Equal(latest, f.sdb.SignedHead(t)) {
		t.Errorf("latest: %d %q", code, latest)
	}
	v, err := note.NewVerifier(f.sdb.Key)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(latest, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	tile := tlog.NewTiles(8, 0, tree.N)[0].Path()
	for range 3 {
		if code, body := get(t, srv.URL+"/sumdb/"+dbName+"/"+tile); code != 200 || len(body) == 0 {
			t.Errorf("%s: %d", tile, code)
		}
	}
	if c := f.count("/sumdb/" + dbName + "/" + tile); c != 1 {
		t.Errorf("%s fetched %d times from the upstream; want 1", tile, c)
	}
	if code, _ := get(t, srv.URL+"/sumdb/"+dbName+"/lookup/modferry.test/nosuch@v1.0.0"); code != 404 && code != 410 {
		t.Errorf("lookup of an unknown module: %d; want 404 or 410", code)
	}
}

// TestHeadPinned: records already in the tree of the head the store
// serves are proven against that head, so fills of them do not move it
// (every head served is one more that later imports must keep provable).
func TestHeadPinned(t *testing.T) {
	f := newFront(t)
	for _, v := range f.up.Versions() {
		zh, mh, err := checksumdbtest.Hashes(f.up.Dir, v)
		if err != nil {
			t.Fatal(err)
		}
		f.sdb.Add(t, v, zh, mh)
	}
	f.sdb.AddFiller(t, 10) // the upstream's head moves past every record
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{ListTTL: time.Millisecond})
	for _, p := range []string{"modferry.test/dep/@v/v1.0.0.zip", "modferry.test/lib/@v/v1.1.0.zip", "modferry.test/shared/@v/v1.0.0.mod"} {
		if code, body := get(t, srv.URL+"/"+p); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
		f.sdb.AddFiller(t, 3)
		time.Sleep(2 * time.Millisecond) // past ListTTL: the upstream's latest is asked again
	}
	heads, err := st.List(context.Background(), "sumdb/"+dbName+"/heads")
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 1 {
		t.Errorf("the store served %d heads (%v); want 1", len(heads), heads)
	}
}
