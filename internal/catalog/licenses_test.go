package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/memzip"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

const mitText = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`

// addZip stores a complete version whose zip is a real module zip of
// files, and returns the zip's hash as stored.
func addZip(t testing.TB, st store.Store, mv string, files map[string][]byte) string {
	t.Helper()
	path, version, _ := strings.Cut(mv, "@")
	v := module.Version{Path: path, Version: version}
	files["go.mod"] = []byte("module " + path + "\n")
	z, err := memzip.Bytes(v, files)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(modules.InfoJSON{Version: version, Time: time.Unix(1e9, 0)})
	h := fakeH1(string(z))
	f := modules.Files{Mod: strings.NewReader(string(files["go.mod"])), Zip: strings.NewReader(string(z)), ZipHash: h, Info: strings.NewReader(string(info))}
	if err := (&modules.Repo{Store: st}).Add(context.Background(), v, f); err != nil {
		t.Fatal(err)
	}
	return h
}

// licencesOf returns the licences of each version of a module page.
func licencesOf(t *testing.T, c *Catalog, path string) map[string][]string {
	t.Helper()
	m, err := c.Module(t.Context(), path, ModuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, v := range m.Versions {
		out[v.Version] = v.Licenses
	}
	return out
}

func TestLicenses(t *testing.T) {
	for name, st := range map[string]store.Store{"disk": newDisk(t), "mem": store.NewMem()} {
		t.Run(name, func(t *testing.T) { testLicenses(t, st) })
	}
}

func testLicenses(t *testing.T, st store.Store) {
	ctx := t.Context()
	mitHash := addZip(t, st, "example.com/lib@v1.0.0", map[string][]byte{"LICENSE": []byte(mitText), "lib.go": []byte("package lib\n")})
	addZip(t, st, "example.com/lib@v1.1.0", map[string][]byte{"lib.go": []byte("package lib\n"), "sub/LICENSE": []byte(mitText)})
	add(t, st, "example.com/lib@v0.9.0", "", true, time.Unix(1e9, 0)) // a zip that is no zip
	add(t, st, "example.com/lib@v0.1.0", "", false, time.Time{})      // go.mod only
	// A version that came from a bundle whose SBOM the store kept: its
	// licences are the SBOM's, its zip is not read.
	add(t, st, "example.com/app@v1.0.0", "", true, time.Unix(1e9, 0))
	digest := strings.Repeat("ab", 32)
	record(t, st, digest, time.Unix(2e9, 0), "example.com/app@v1.0.0")
	cdx := `{"components":[{"name":"example.com/app","version":"v1.0.0","licenses":[{"license":{"id":"Apache-2.0"}},{"expression":"MIT OR BSD-3-Clause"}]}]}`
	if err := st.Put(ctx, importer.SBOMName(digest, api.DownloadCycloneDX), strings.NewReader(cdx)); err != nil {
		t.Fatal(err)
	}

	// A read-only catalog (the CLI's) detects but writes nothing.
	ro := New(st)
	ro.ReadOnly = true
	if got := licencesOf(t, ro, "example.com/lib")["v1.0.0"]; !slices.Equal(got, []string{"MIT"}) {
		t.Errorf("read-only catalog: lib@v1.0.0 licences %q", got)
	}
	name, _ := licenseCacheName("example.com/lib")
	if ok, err := store.Exists(ctx, st, name); ok || err != nil {
		t.Errorf("a read-only catalog wrote its licence cache (%v)", err)
	}

	c := New(st)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := licencesOf(t, c, "example.com/lib")
	want := map[string][]string{
		"v1.0.0": {"MIT"},
		"v1.1.0": {}, // licence files of nested packages are not the module's
		"v0.9.0": {},
		"v0.1.0": nil,
	}
	for v, w := range want {
		if g := got[v]; !slices.Equal(g, w) || (g == nil) != (w == nil) {
			t.Errorf("lib@%s: licences %q, want %q", v, g, w)
		}
	}
	if g := licencesOf(t, c, "example.com/app")["v1.0.0"]; !slices.Equal(g, []string{"Apache-2.0", "MIT OR BSD-3-Clause"}) {
		t.Errorf("app@v1.0.0: licences %q, want the SBOM's", g)
	}

	// The detection is kept in the store: a new catalog (a restarted
	// server) takes it from there, not from the zips. The cache is
	// rewritten by hand to tell the two apart; an entry for another zip
	// (another hash) is not trusted.
	data, err := store.ReadAll(ctx, st, name)
	if err != nil {
		t.Fatalf("licence cache: %v", err)
	}
	var lc licenseCache
	if err := json.Unmarshal(data, &lc); err != nil {
		t.Fatal(err)
	}
	if e := lc.Versions["v1.0.0"]; e.ZipHash != mitHash || !slices.Equal(e.Licenses, []string{"MIT"}) || len(lc.Versions) != 3 {
		t.Fatalf("licence cache %s", data)
	}
	e := lc.Versions["v1.0.0"]
	e.Licenses = []string{"Cached-1.0"}
	lc.Versions["v1.0.0"] = e
	e = lc.Versions["v1.1.0"]
	e.ZipHash, e.Licenses = "h1:other", []string{"Stale-1.0"}
	lc.Versions["v1.1.0"] = e
	data, _ = json.Marshal(lc)
	if err := st.Put(ctx, name, strings.NewReader(string(data))); err != nil {
		t.Fatal(err)
	}
	c2 := New(st)
	if err := c2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got = licencesOf(t, c2, "example.com/lib")
	if !slices.Equal(got["v1.0.0"], []string{"Cached-1.0"}) || len(got["v1.1.0"]) != 0 || got["v1.1.0"] == nil {
		t.Errorf("after a restart: %q, want v1.0.0 from the cache and v1.1.0 detected again", got)
	}
}

// TestLicensesWrittenWhileRunning: while Run runs, module pages write
// the licence cache in the background, and Run returns after the writes.
func TestLicensesWrittenWhileRunning(t *testing.T) {
	st := newDisk(t)
	addZip(t, st, "example.com/lib@v1.0.0", map[string][]byte{"LICENSE": []byte(mitText)})
	c := New(st)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx, time.Hour, nil) }()
	if err := c.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := licencesOf(t, c, "example.com/lib")["v1.0.0"]; !slices.Equal(got, []string{"MIT"}) {
		t.Errorf("licences %q", got)
	}
	cancel()
	<-done
	name, _ := licenseCacheName("example.com/lib")
	if data, err := store.ReadAll(t.Context(), st, name); err != nil || !strings.Contains(string(data), `"MIT"`) {
		t.Errorf("licence cache after Run returned: %s %v", data, err)
	}
}

// zipCounter counts the opens of .zip files of a store.
type zipCounter struct {
	store.Store
	mu    sync.Mutex
	opens int
}

func (z *zipCounter) Open(ctx context.Context, name string) (store.File, error) {
	if strings.HasSuffix(name, ".zip") {
		z.mu.Lock()
		z.opens++
		z.mu.Unlock()
	}
	return z.Store.Open(ctx, name)
}

// TestLicensesDetectedOnce: pages of one module viewed at once share one
// detection; no page reads a zip another has read already.
func TestLicensesDetectedOnce(t *testing.T) {
	st := &zipCounter{Store: store.NewMem()}
	const versions = 6
	for i := range versions {
		addZip(t, st.Store, fmt.Sprintf("example.com/lib@v1.%d.0", i), map[string][]byte{"LICENSE": []byte(mitText)})
	}
	c := New(st)
	c.ReadOnly = true // no cache writes: every miss would read the zip again
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.opens = 0 // the index's own looks at the zips
	st.mu.Unlock()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for v, ids := range licencesOf(t, c, "example.com/lib") {
				if !slices.Equal(ids, []string{"MIT"}) {
					t.Errorf("%s: licences %q, want MIT", v, ids)
				}
			}
		})
	}
	wg.Wait()
	if st.opens != versions {
		t.Errorf("8 concurrent views opened %d zips, want %d (each once)", st.opens, versions)
	}
}

// TestLicensesFoundInBackground: while Run runs, the licences of every
// version (and the latest go.mod's requirements) are found after the
// index is built, without a page view, and kept in the store; a module
// page then reads no zip.
func TestLicensesFoundInBackground(t *testing.T) {
	st := &zipCounter{Store: newDisk(t)}
	for i := range 3 {
		addZip(t, st.Store, fmt.Sprintf("example.com/lib@v1.%d.0", i), map[string][]byte{"LICENSE": []byte(mitText)})
	}
	addZip(t, st.Store, "example.com/other@v1.0.0", map[string][]byte{"other.go": []byte("package other\n")})
	c := New(st)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx, time.Hour, nil) }()
	licensed := func() bool {
		c.mu.RLock()
		defer c.mu.RUnlock()
		for _, p := range []string{"example.com/lib", "example.com/other"} {
			if m := c.mods[p]; m == nil || !m.licensed.Load() {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(time.Minute); !licensed(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the licences were not found in the background")
		}
	}
	c.mu.RLock()
	rc := c.mods["example.com/lib"].requires.Load()
	c.mu.RUnlock()
	if rc == nil || rc.version != "v1.2.0" {
		t.Errorf("the background pass kept the requirements of %+v, want those of v1.2.0", rc)
	}
	st.mu.Lock()
	st.opens = 0
	st.mu.Unlock()
	for v, ids := range licencesOf(t, c, "example.com/lib") {
		if !slices.Equal(ids, []string{"MIT"}) {
			t.Errorf("lib@%s: licences %q, want MIT", v, ids)
		}
	}
	if ids := licencesOf(t, c, "example.com/other")["v1.0.0"]; ids == nil || len(ids) != 0 {
		t.Errorf("other@v1.0.0: licences %q, want none", ids)
	}
	if st.opens != 0 {
		t.Errorf("module pages opened %d zips after the background pass, want 0", st.opens)
	}
	cancel()
	<-done
	name, _ := licenseCacheName("example.com/lib")
	if data, err := store.ReadAll(t.Context(), st, name); err != nil || strings.Count(string(data), `"MIT"`) != 3 {
		t.Errorf("licence cache after Run returned: %s %v", data, err)
	}
}
