package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/proxy"
	"github.com/modferry/modferry/internal/store"
)

func newTestServer(t *testing.T, opts proxy.Options) (*httptest.Server, *modules.Repo, *proxy.Handler) {
	t.Helper()
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo := &modules.Repo{Store: st}
	ctx := context.Background()
	add := func(path, version string, withZip bool) {
		v := module.Version{Path: path, Version: version}
		f := modules.Files{
			Info: strings.NewReader(`{"Version":"` + version + `","Time":"2024-01-01T00:00:00Z"}`),
			Mod:  strings.NewReader("module " + path + "\n"),
		}
		if withZip {
			f.Zip = bytes.NewReader([]byte("PK-zip-of-" + version))
			f.ZipHash = "h1:fake"
		}
		if err := repo.Add(ctx, v, f); err != nil {
			t.Fatal(err)
		}
	}
	add("modferry.test/Upper", "v1.0.0", true)
	add("modferry.test/m", "v1.0.0", true)
	add("modferry.test/m", "v1.2.0", true)
	add("modferry.test/m", "v1.10.0-rc.1", true)
	add("modferry.test/m", "v0.0.0-20240101000000-abcdefabcdef", true)
	add("modferry.test/m", "v1.1.0", false) // go.mod only: served, never listed
	add("modferry.test/pre", "v2.0.0-beta.1+incompatible", true)
	add("modferry.test/pre", "v1.0.0-alpha", true)
	add("modferry.test/pseudo", "v0.0.0-20240101000000-abcdefabcdef", true)
	add("modferry.test/pseudo", "v0.0.0-20240202000000-abcdefabcdef", true)
	add("modferry.test/gone", "v1.0.0", true)
	add("modferry.test/gone", "v1.1.0", true)
	if err := repo.Delete(ctx, module.Version{Path: "modferry.test/gone", Version: "v1.1.0"}, modules.GoneRecord{Time: time.Now(), Actor: "test", Reason: "license problem"}); err != nil {
		t.Fatal(err)
	}
	h := proxy.New(repo, opts)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts, repo, h
}

func TestAnswers(t *testing.T) {
	ts, _, _ := newTestServer(t, proxy.Options{})
	tests := []struct {
		method, path string
		code         int
		body         string // prefix, when set
		cache        string // Cache-Control, when set
	}{
		{"GET", "/modferry.test/m/@v/list", 200, "v1.0.0\nv1.2.0\nv1.10.0-rc.1\n", "public, max-age=60"},
		{"GET", "/modferry.test/m/@latest", 200, `{"Version":"v1.2.0"`, "public, max-age=60"},
		{"GET", "/modferry.test/pre/@latest", 200, `{"Version":"v2.0.0-beta.1+incompatible"`, ""},
		{"GET", "/modferry.test/pseudo/@latest", 200, `{"Version":"v0.0.0-20240202000000-abcdefabcdef"`, ""},
		{"GET", "/modferry.test/pseudo/@v/list", 200, "", ""},
		{"GET", "/modferry.test/m/@v/v1.0.0.info", 200, `{"Version":"v1.0.0"`, "public, max-age=31536000, immutable"},
		{"GET", "/modferry.test/m/@v/v1.0.0.mod", 200, "module modferry.test/m\n", "public, max-age=31536000, immutable"},
		{"GET", "/modferry.test/m/@v/v1.0.0.zip", 200, "PK-zip-of-v1.0.0", "public, max-age=31536000, immutable"},
		{"GET", "/modferry.test/m/@v/v1.1.0.mod", 200, "module modferry.test/m\n", ""},
		{"GET", "/modferry.test/m/@v/v1.1.0.zip", 404, "not found", ""},
		{"GET", "/modferry.test/%21upper/@v/v1.0.0.info", 200, `{"Version":"v1.0.0"`, ""},
		{"GET", "/modferry.test/!upper/@v/list", 200, "v1.0.0\n", ""},
		{"HEAD", "/modferry.test/m/@v/v1.0.0.zip", 200, "", ""},
		{"HEAD", "/modferry.test/m/@v/v1.0.0.info", 200, "", ""},
		// Absent: 404.
		{"GET", "/modferry.test/none/@v/list", 404, "not found", ""},
		{"GET", "/modferry.test/none/@latest", 404, "not found", ""},
		{"GET", "/modferry.test/m/@v/v1.9.9.info", 404, "not found", ""},
		{"GET", "/modferry.test/m/@v/master.info", 404, "", ""},
		{"GET", "/modferry.test/m/@v/v1.info", 404, "", ""},
		// Deleted: 410, with the reason.
		{"GET", "/modferry.test/gone/@v/v1.1.0.zip", 410, "gone: modferry.test/gone@v1.1.0 was deleted", ""},
		{"GET", "/modferry.test/gone/@v/v1.1.0.info", 410, "gone", ""},
		{"GET", "/modferry.test/gone/@v/list", 200, "v1.0.0\n", ""},
		{"GET", "/modferry.test/gone/@latest", 200, `{"Version":"v1.0.0"`, ""},
		// Malformed: 400.
		{"GET", "/modferry.test/Upper/@v/list", 400, "", ""},
		{"GET", "/modferry.test/../x/@v/list", 400, "", ""},
		{"GET", "/modferry.test/m/@v/v1.0.0.exe", 400, "", ""},
		{"GET", "/nodot/@v/list", 400, "", ""},
		{"GET", "/", 400, "", ""},
		{"GET", "/modferry.test/m", 400, "", ""},
		{"GET", "/modferry.test/%2e%2e/x/@v/list", 400, "", ""},
		{"POST", "/modferry.test/m/@v/list", 405, "", ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s = %d %q, want %d", tt.method, tt.path, resp.StatusCode, body, tt.code)
			continue
		}
		if tt.method == "HEAD" {
			if len(body) != 0 || resp.ContentLength <= 0 {
				t.Errorf("HEAD %s: body %q, length %d", tt.path, body, resp.ContentLength)
			}
			continue
		}
		if tt.path == "/modferry.test/pseudo/@v/list" && len(body) != 0 {
			t.Errorf("list of a pseudo-version-only module = %q, want empty", body)
		}
		if !strings.HasPrefix(string(body), tt.body) {
			t.Errorf("%s %s body = %q, want prefix %q", tt.method, tt.path, body, tt.body)
		}
		if tt.cache != "" && resp.Header.Get("Cache-Control") != tt.cache {
			t.Errorf("%s %s Cache-Control = %q, want %q", tt.method, tt.path, resp.Header.Get("Cache-Control"), tt.cache)
		}
	}
}

func TestConditionalAndRange(t *testing.T) {
	for _, name := range []string{"cache", "nocache"} {
		t.Run(name, func(t *testing.T) {
			opts := proxy.Options{}
			if name == "nocache" {
				opts.CacheBytes = -1
			}
			ts, _, _ := newTestServer(t, opts)
			for _, p := range []string{"/modferry.test/m/@v/v1.0.0.info", "/modferry.test/m/@v/v1.0.0.mod", "/modferry.test/m/@v/v1.0.0.zip"} {
				resp, err := http.Get(ts.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				etag := resp.Header.Get("Etag")
				if !strings.HasPrefix(etag, `"`) {
					t.Fatalf("%s: ETag %q is not a strong ETag", p, etag)
				}
				for _, inm := range []string{etag, `"other", ` + etag, "*", "W/" + etag} {
					req, _ := http.NewRequest("GET", ts.URL+p, nil)
					req.Header.Set("If-None-Match", inm)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusNotModified {
						t.Errorf("%s If-None-Match %s = %d, want 304", p, inm, resp.StatusCode)
					}
				}
				req, _ := http.NewRequest("GET", ts.URL+p, nil)
				req.Header.Set("If-None-Match", `"stale"`)
				resp, _ = http.DefaultClient.Do(req)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("%s with a stale ETag = %d, want 200", p, resp.StatusCode)
				}
			}
			req, _ := http.NewRequest("GET", ts.URL+"/modferry.test/m/@v/v1.0.0.zip", nil)
			req.Header.Set("Range", "bytes=3-5")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusPartialContent || string(b) != "zip" {
				t.Errorf("Range = %d %q, want 206 \"zip\"", resp.StatusCode, b)
			}
		})
	}
}

// TestSeesChanges: versions added or deleted behind the server's back
// (by another process) show up without a restart.
func TestSeesChanges(t *testing.T) {
	ts, repo, h := newTestServer(t, proxy.Options{Recheck: time.Millisecond})
	get := func(p string) (int, string) {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ctx := context.Background()
	if code, _ := get("/modferry.test/m/@v/v1.0.0.info"); code != 200 {
		t.Fatal(code)
	}
	if err := repo.Add(ctx, module.Version{Path: "modferry.test/m", Version: "v1.3.0"}, modules.Files{
		Info: strings.NewReader(`{"Version":"v1.3.0"}`), Mod: strings.NewReader("module modferry.test/m\n"), Zip: strings.NewReader("z"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, body := get("/modferry.test/m/@v/list"); !strings.Contains(body, "v1.3.0") {
		t.Errorf("list after add = %q", body)
	}
	v := module.Version{Path: "modferry.test/m", Version: "v1.0.0"}
	if err := repo.Delete(ctx, v, modules.GoneRecord{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if code, _ := get("/modferry.test/m/@v/v1.0.0.info"); code != 410 {
		t.Errorf("info after delete by another process = %d, want 410", code)
	}
	h.Forget(v)
	if code, _ := get("/modferry.test/m/@v/v1.0.0.mod"); code != 410 {
		t.Errorf("mod after delete = %d, want 410", code)
	}
}

func BenchmarkServeInfo(b *testing.B) {
	st, _ := store.NewDisk(b.TempDir())
	repo := &modules.Repo{Store: st}
	v := module.Version{Path: "modferry.test/m", Version: "v1.0.0"}
	repo.Add(context.Background(), v, modules.Files{Info: strings.NewReader(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`), Mod: strings.NewReader("module modferry.test/m\n"), Zip: strings.NewReader("z")})
	h := proxy.New(repo, proxy.Options{})
	req := httptest.NewRequest("GET", "/modferry.test/m/@v/v1.0.0.info", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// countingDisk is a disk store that counts directory listings.
type countingDisk struct {
	*store.Disk
	lists atomic.Int64
}

func (c *countingDisk) List(ctx context.Context, dir string) ([]string, error) {
	c.lists.Add(1)
	return c.Disk.List(ctx, dir)
}

// TestListCache: @v/list and @latest of a local store are answered without
// listing the directory again until it changes, and a change made by
// another process (another Repo on the same directory) shows at once.
func TestListCache(t *testing.T) {
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &countingDisk{Disk: d}
	ctx := context.Background()
	add := func(version string) {
		t.Helper()
		other := &modules.Repo{Store: d} // another process: no counting, no handler
		if err := other.Add(ctx, module.Version{Path: "modferry.test/m", Version: version}, modules.Files{
			Info: strings.NewReader(`{"Version":"` + version + `"}`), Mod: strings.NewReader("module modferry.test/m\n"), Zip: strings.NewReader("z"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	add("v1.0.0")
	h := proxy.New(&modules.Repo{Store: st}, proxy.Options{})
	get := func(p string) string {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", p, w.Code, w.Body)
		}
		return w.Body.String()
	}
	time.Sleep(150 * time.Millisecond) // past the racy window
	if got := get("/modferry.test/m/@v/list"); got != "v1.0.0\n" {
		t.Fatalf("list = %q", got)
	}
	n := st.lists.Load()
	for range 10 {
		get("/modferry.test/m/@v/list")
		if !strings.Contains(get("/modferry.test/m/@latest"), `"v1.0.0"`) {
			t.Fatal("@latest is not v1.0.0")
		}
	}
	if again := st.lists.Load() - n; again != 0 {
		t.Errorf("20 more list and @latest answers listed the directory %d times, want 0", again)
	}
	add("v1.1.0")
	if got := get("/modferry.test/m/@v/list"); got != "v1.0.0\nv1.1.0\n" {
		t.Errorf("list right after another process added v1.1.0 = %q", got)
	}
	if got := get("/modferry.test/m/@latest"); !strings.Contains(got, `"v1.1.0"`) {
		t.Errorf("@latest right after another process added v1.1.0 = %q", got)
	}
}

// BenchmarkServeList: @v/list of a module of 100 versions (the cost curve
// of bench/scale.sh).
func BenchmarkServeList(b *testing.B) {
	st, _ := store.NewDisk(b.TempDir())
	repo := &modules.Repo{Store: st}
	for i := range 100 {
		v := module.Version{Path: "modferry.test/m", Version: fmt.Sprintf("v1.%d.0", i)}
		repo.Add(context.Background(), v, modules.Files{Info: strings.NewReader(`{"Version":"` + v.Version + `"}`), Mod: strings.NewReader("module modferry.test/m\n"), Zip: strings.NewReader("z")})
	}
	time.Sleep(150 * time.Millisecond)
	for _, cache := range []int{-1, 0} {
		name := map[int]string{-1: "uncached", 0: "cached"}[cache]
		b.Run(name, func(b *testing.B) {
			h := proxy.New(repo, proxy.Options{CacheBytes: cache})
			req := httptest.NewRequest("GET", "/modferry.test/m/@v/list", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
