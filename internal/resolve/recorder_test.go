package resolve

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
)

// memFiles is SumDBFiles in memory: it keeps what it fetched.
type memFiles struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (c *memFiles) Get(key string, fetch func() ([]byte, error)) ([]byte, error) {
	if d, ok := c.get(key); ok {
		return d, nil
	}
	d, err := fetch()
	if err == nil {
		c.mu.Lock()
		c.files[key] = d
		c.mu.Unlock()
	}
	return d, err
}

func (c *memFiles) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.files[key]
	return d, ok
}

// TestRecorderSumDBFiles checks that the recorder asks its SumDBFiles for
// the go command's checksum-database files that never change (lookups,
// full tiles), and passes every other database request (the latest head,
// partial and data tiles) through to the upstream each time.
func TestRecorderSumDBFiles(t *testing.T) {
	rec, counts := testRecorder(t, t.TempDir(), "", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "missing") {
			http.NotFound(w, r)
			return
		}
		w.Write(upstreamFile(r.URL.Path))
	})
	// Well-formed enough: a record, then a note.
	const lookup = "12\nexample.com/seeded v1.0.0 h1:x=\nexample.com/seeded v1.0.0/go.mod h1:y=\n\ngo.sum database tree\n100\nhash=\n\n— sum.test sig\n"
	cache := &memFiles{files: map[string][]byte{"sum.test/lookup/seeded@v1.0.0": []byte(lookup)}}
	rec.sumdb = cache
	if err := rec.start(); err != nil {
		t.Fatal(err)
	}
	defer rec.close()

	get := func(p string) string {
		t.Helper()
		resp, err := http.Get(rec.proxyURL(rec.newCommand("p", "go test", "test")) + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s: %s", p, resp.Status, body)
		}
		return string(body)
	}
	kept := []string{"/sumdb/sum.test/lookup/example.com/m@v1.0.0", "/sumdb/sum.test/tile/8/0/x001/234", "/sumdb/sum.test/tile/8/1/000"}
	passed := []string{"/sumdb/sum.test/latest", "/sumdb/sum.test/supported", "/sumdb/sum.test/tile/8/0/005.p/7", "/sumdb/sum.test/tile/8/data/000"}
	for range 2 {
		for _, p := range append(kept, passed...) {
			if got, want := get(p), string(upstreamFile(p)); got != want {
				t.Errorf("GET %s = %q, want %q", p, got, want)
			}
		}
	}
	hits := counts()
	for _, p := range kept {
		if hits[p] != 1 {
			t.Errorf("%s reached the upstream %d times, want 1", p, hits[p])
		}
		if d, ok := cache.get(strings.TrimPrefix(p, "/sumdb/")); !ok || string(d) != string(upstreamFile(p)) {
			t.Errorf("%s kept as %q, %v", p, d, ok)
		}
	}
	for _, p := range passed {
		if hits[p] != 2 {
			t.Errorf("%s reached the upstream %d times, want 2", p, hits[p])
		}
		if _, ok := cache.get(strings.TrimPrefix(p, "/sumdb/")); ok {
			t.Errorf("%s kept in the cache", p)
		}
	}
	if got := get("/sumdb/sum.test/lookup/seeded@v1.0.0"); got != lookup {
		t.Errorf("a cached lookup was served as %q", got)
	}
	if n := counts()["/sumdb/sum.test/lookup/seeded@v1.0.0"]; n != 0 {
		t.Errorf("a cached lookup reached the upstream %d times", n)
	}
	// The upstream's answer to a file it lacks reaches the go command.
	resp, err := http.Get(rec.proxyURL(rec.newCommand("p", "go test", "test")) + "/sumdb/sum.test/lookup/missing@v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a lookup the upstream lacks: %s, want 404", resp.Status)
	}
	if _, ok := cache.get("sum.test/lookup/missing@v1.0.0"); ok {
		t.Error("a failed lookup was kept")
	}
}

// upstreamFile is what the test upstream serves at p: a lookup or a tile
// of the right shape, else a line naming p.
func upstreamFile(p string) []byte {
	_, rest, _ := strings.Cut(strings.TrimPrefix(p, "/sumdb/"), "/")
	if strings.HasPrefix(rest, "lookup/") {
		return []byte("7\n" + strings.TrimPrefix(rest, "lookup/") + " h1:x=\n\ngo.sum database tree\n8\nh=\n\n— sum.test x\n")
	}
	if t, err := tlog.ParseTilePath(rest); err == nil && t.L >= 0 {
		return bytes.Repeat([]byte{byte(len(p))}, t.W*tlog.HashSize)
	}
	return []byte("upstream " + p)
}

func TestSumDBCacheKey(t *testing.T) {
	for name, want := range map[string]string{
		"sumdb/sum.golang.org/lookup/golang.org/x/text@v0.3.0": "sum.golang.org/lookup/golang.org/x/text@v0.3.0",
		"sumdb/sum.golang.org/tile/8/0/x001/234":               "sum.golang.org/tile/8/0/x001/234",
		"sumdb/sum.golang.org/tile/8/3/000.p/4":                "",
		"sumdb/sum.golang.org/tile/8/data/x001/234":            "",
		"sumdb/sum.golang.org/latest":                          "",
		"sumdb/sum.golang.org/lookup/../../../etc/passwd":      "",
		"sumdb/../lookup/x@v1.0.0":                             "",
		"sumdb//lookup/x@v1.0.0":                               "",
		"sumdb/sum.golang.org/lookup//x@v1.0.0":                "",
		"sumdb/sum.golang.org":                                 "",
	} {
		key, ok := sumdbCacheKey(name)
		if !ok {
			key = ""
		}
		if key != want {
			t.Errorf("sumdbCacheKey(%q) = %q, %v; want %q", name, key, ok, want)
		}
	}
}

// TestRecorderCompleteEarly checks that, with early completion on, a
// served file's complements (the .info of a .mod, the .mod of an .info,
// both of a .zip) come into the store in the background, that GONOPROXY
// modules are left alone, and that nothing is fetched after
// stopCompletion.
func TestRecorderCompleteEarly(t *testing.T) {
	dir := t.TempDir()
	rec, counts := testRecorder(t, dir, "private.test", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{}"))
	})
	rec.startCompletion(2)
	served := func(path string, k modfiles.Kind) {
		rec.record(File{Module: module.Version{Path: path, Version: "v1.0.0"}, Kind: k}, nil)
	}
	served("example.com/a", modfiles.Mod)
	served("example.com/b", modfiles.Info)
	served("example.com/c", modfiles.Zip)
	served("private.test/p", modfiles.Mod)
	want := []string{"/example.com/a/@v/v1.0.0.info", "/example.com/b/@v/v1.0.0.mod", "/example.com/c/@v/v1.0.0.info", "/example.com/c/@v/v1.0.0.mod"}
	for _, p := range want {
		name := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, "/")))
		for i := 0; ; i++ {
			if _, err := os.Stat(name); err == nil {
				break
			}
			if i == 500 {
				t.Fatalf("%s not fetched in the background", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	rec.stopCompletion()
	served("example.com/d", modfiles.Mod)
	rec.stopCompletion()
	hits := counts()
	for _, p := range want {
		if hits[p] != 1 {
			t.Errorf("%s fetched %d times, want 1", p, hits[p])
		}
	}
	if len(hits) != len(want) {
		t.Errorf("fetched %v, want only %v (nothing of private.test, nothing after the stop)", hits, want)
	}
}

// testRecorder returns a recorder storing into dir, in front of an
// upstream served by h, and a func that returns how many times the
// upstream was asked for each path so far.
func testRecorder(t *testing.T, dir, noProxy string, h http.HandlerFunc) (*recorder, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	hits := map[string]int{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(up.Close)
	list, err := parseProxyList(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(context.Background(), dir, &fetcher{list: list, client: up.Client()}, 4, noProxy, nil)
	return rec, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(hits)
	}
}
