package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/trust"
)

// metaFixture is a server whose store holds a bundle imported through the
// API (modferry.test/lib v1.0.0 and v1.1.0, the latter retracting v1.0.0;
// modferry.test/app and modferry.test/Tool requiring lib) and a version
// published through the API (corp.example/b v1.0.0), but no Refresh: what
// the index holds came from the server's own RefreshModules calls.
type metaFixture struct {
	*fixture
	read, write, digest string
	bundle              []byte // the bundle uploaded
}

func newMetaFixture(t testing.TB) *metaFixture {
	t.Helper()
	key, pub := bundletest.NewKey(t)
	f := newFixture(t, Config{BundleTrust: trust.Policy{Keys: &trust.Keys{Minisign: []sign.PublicKey{pub}}}})
	mf := &metaFixture{fixture: f, read: f.add(t, "r", auth.ScopeRead), write: f.add(t, "w", auth.ScopeWrite, auth.ScopeDelete)}
	mods := []bundletest.Module{
		{Path: "modferry.test/lib", Version: "v1.0.0", Files: map[string][]byte{"lib.go": []byte("package lib\n")}},
		{Path: "modferry.test/lib", Version: "v1.1.0", Files: map[string][]byte{
			"go.mod": []byte("module modferry.test/lib\n\ngo 1.22\n\nretract v1.0.0 // broken\n"), "lib.go": []byte("package lib\n")}},
		{Path: "modferry.test/app", Version: "v0.1.0", Files: map[string][]byte{
			"go.mod": []byte("module modferry.test/app\n\ngo 1.23\n\nrequire modferry.test/lib v1.1.0\n"), "main.go": []byte("package main\n")}},
		{Path: "modferry.test/Tool", Version: "v2.0.0+incompatible", Files: map[string][]byte{
			"go.mod": []byte("module modferry.test/Tool\n\nrequire modferry.test/lib v1.0.0\n"), "t.go": []byte("package tool\n")}},
		{Path: "modferry.test/graphonly", Version: "v0.0.1"},
	}
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, mods, key)
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	w := f.do(req{method: "POST", path: api.BundlesPath, token: mf.write, body: bytes.NewReader(data), contentType: "application/zstd"})
	if w.Code != 200 {
		t.Fatalf("bundle upload: %d %s", w.Code, w.Body)
	}
	var res struct{ Digest string }
	json.Unmarshal(w.Body.Bytes(), &res)
	mf.digest, mf.bundle = res.Digest, data
	v := module.Version{Path: "corp.example/b", Version: "v1.0.0"}
	gomod := "module corp.example/b\n\nrequire modferry.test/lib v1.1.0\n"
	body, ct := upload(t, v, gomod, map[string]string{"go.mod": gomod, "b.go": "package b\n"})
	if w := f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/b/@v/v1.0.0", token: mf.write, body: body, contentType: ct}); w.Code != 201 {
		t.Fatalf("publish: %d %s", w.Code, w.Body)
	}
	return mf
}

func (mf *metaFixture) get(t *testing.T, path string, code int, out any) *http.Response {
	t.Helper()
	w := mf.do(req{path: path, token: mf.read})
	if w.Code != code {
		t.Fatalf("GET %s: %d, want %d\n%s", path, w.Code, code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero()
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, w.Body)
		}
	}
	return w.Result()
}

func TestMetadataAPI(t *testing.T) {
	mf := newMetaFixture(t)

	// Search: the modules this server imported and published are indexed
	// at once (corp.example/a, written behind its back, is not yet).
	var sr api.SearchResult
	mf.get(t, api.SearchPath+"?q=TEST/", 200, &sr)
	var got []string
	for _, m := range sr.Modules {
		got = append(got, m.Path)
	}
	want := []string{"modferry.test/app", "modferry.test/graphonly", "modferry.test/lib", "modferry.test/Tool"}
	if !slices.Equal(got, want) || sr.Next != "" {
		t.Errorf("q=TEST/: %v next %q, want %v", got, sr.Next, want)
	}
	mf.get(t, api.SearchPath+"?prefix=corp.example/", 200, &sr)
	if len(sr.Modules) != 1 || sr.Modules[0].Path != "corp.example/b" || sr.Modules[0].Latest != "v1.0.0" {
		t.Errorf("prefix=corp.example/: %+v", sr.Modules)
	}
	// Paging: limit 2, following the cursors, sees each module once.
	got = nil
	for next, pages := "", 0; pages == 0 || next != ""; pages++ {
		sr = api.SearchResult{}
		mf.get(t, api.SearchPath+"?prefix=modferry.test&limit=2&cursor="+url.QueryEscape(next), 200, &sr)
		if len(sr.Modules) > 2 || pages > 3 {
			t.Fatalf("page %d: %d modules", pages, len(sr.Modules))
		}
		for _, m := range sr.Modules {
			got = append(got, m.Path)
		}
		next = sr.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged: %v, want %v", got, want)
	}

	// A module page.
	var m api.Module
	mf.get(t, api.ModulesPath+"modferry.test/lib", 200, &m)
	if m.Latest != "v1.1.0" || len(m.Versions) != 2 || m.Versions[0].Version != "v1.1.0" || !m.Versions[1].Retracted || m.Versions[1].RetractRationale != "broken" {
		t.Errorf("lib: %+v", m)
	}
	for _, v := range m.Versions {
		if v.Origin == nil || v.Origin.Kind != api.OriginBundle || v.Origin.Bundle != mf.digest || !strings.HasPrefix(v.ZipHash, "h1:") || v.ZipSize == 0 || v.Time.IsZero() {
			t.Errorf("lib %s: %+v origin %+v", v.Version, v, v.Origin)
		}
	}
	if m.Versions[0].GoVersion != "1.22" {
		t.Errorf("lib v1.1.0 go version %q", m.Versions[0].GoVersion)
	}
	var deps []string
	for _, d := range m.Dependents {
		deps = append(deps, d.Path)
	}
	if !slices.Equal(deps, []string{"corp.example/b", "modferry.test/Tool", "modferry.test/app"}) || m.DependentsTotal != 3 {
		t.Errorf("lib dependents: %v (%d)", deps, m.DependentsTotal)
	}
	mf.get(t, api.ModulesPath+"corp.example/b", 200, &m)
	if o := m.Versions[0].Origin; o == nil || o.Kind != api.OriginPublish || o.Actor != "token:w" {
		t.Errorf("corp.example/b origin: %+v", o)
	}
	if len(m.Requires) != 1 || m.Requires[0].Path != "modferry.test/lib" {
		t.Errorf("corp.example/b requires: %+v", m.Requires)
	}
	// Upper case is escaped in the path; a module written behind the
	// server's back has an exact page at once.
	p, _ := api.ModulePath("modferry.test/Tool")
	mf.get(t, p, 200, &m)
	if m.Path != "modferry.test/Tool" || m.Versions[0].Version != "v2.0.0+incompatible" {
		t.Errorf("Tool: %+v", m)
	}
	mf.get(t, api.ModulesPath+"corp.example/a", 200, &m)
	mf.get(t, api.ModulesPath+"modferry.test/lib?version=v1.0.0", 200, &m)
	if m.RequiresOf != "v1.0.0" {
		t.Errorf("requiresOf %q", m.RequiresOf)
	}
	// The version route under the same prefix still answers a version.
	var vi api.VersionInfo
	mf.get(t, api.ModulesPath+"modferry.test/lib/@v/v1.1.0", 200, &vi)
	if vi.Path != "modferry.test/lib" || vi.Version != "v1.1.0" || !strings.HasPrefix(vi.Hash, "h1:") {
		t.Errorf("version: %+v", vi)
	}

	// Bad input.
	var eb api.ErrorBody
	for _, tc := range []struct {
		path string
		code int
	}{
		{api.ModulesPath + "modferry.test/nothing", 404},
		{api.ModulesPath + "modferry.test/lib?version=v9.9.9", 404},
		{api.ModulesPath + "modferry.test/Tool", 400}, // not escaped
		{api.ModulesPath + "modferry.test/lib?dependents=x", 400},
		{api.SearchPath + "?cursor=nonsense", 400},
		{api.SearchPath + "?limit=0", 400},
		{api.SearchPath + "?limit=1001", 400},
		{api.SearchPath + "?limit=abc", 400},
		{api.BundlePath(strings.Repeat("0", 64)), 404},
		{api.BundlePath("not-a-digest"), 404},
		{api.BundlePath(mf.digest) + "/" + api.DownloadSPDX, 404}, // the test bundle has no SBOM
		{api.BundlePath(mf.digest) + "/other.json", 404},
	} {
		mf.get(t, tc.path, tc.code, &eb)
		if eb.Error == "" {
			t.Errorf("%s: no error message", tc.path)
		}
	}

	// The import history. (The test bundle carries no SBOM; one kept as
	// an import keeps it is offered for download.)
	sbom := `{"bomFormat":"CycloneDX"}`
	if err := mf.st.Put(t.Context(), importer.SBOMName(mf.digest, api.DownloadCycloneDX), strings.NewReader(sbom)); err != nil {
		t.Fatal(err)
	}
	var bl api.BundleList
	mf.get(t, api.BundlesPath, 200, &bl)
	if len(bl.Bundles) != 1 {
		t.Fatalf("bundles: %+v", bl)
	}
	b := bl.Bundles[0]
	if b.Digest != mf.digest || b.Modules != 5 || b.GoModOnly != 1 || b.Files == 0 || b.Bytes == 0 || b.Actor != "token:w" ||
		len(b.Signers) != 1 || !strings.HasPrefix(b.Signers[0], "minisign:") || b.Manifest != nil ||
		b.Downloads[api.DownloadManifest] != api.BundlePath(mf.digest)+"/"+api.DownloadManifest {
		t.Errorf("bundle: %+v", b)
	}
	var one api.Bundle
	mf.get(t, api.BundlePath(mf.digest), 200, &one)
	if one.Digest != mf.digest || len(one.Manifest) == 0 || !slices.Equal(one.Signers, b.Signers) {
		t.Errorf("one bundle: %+v", one)
	}
	if _, ok := b.Downloads[api.DownloadSPDX]; ok || b.Downloads[api.DownloadCycloneDX] != api.BundlePath(mf.digest)+"/"+api.DownloadCycloneDX {
		t.Errorf("downloads: %v", b.Downloads)
	}
	if w := mf.do(req{path: b.Downloads[api.DownloadCycloneDX], token: mf.read}); w.Code != 200 || w.Body.String() != sbom {
		t.Errorf("SBOM download: %d %s", w.Code, w.Body)
	}
	resp := mf.get(t, b.Downloads[api.DownloadManifest], 200, nil)
	if !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("manifest download: %v", resp.Header)
	}

	// Statistics, then a delete through the API: shown at once.
	var st api.Stats
	mf.get(t, api.StatsPath, 200, &st)
	if st.Bundles != 1 || st.NewestImport == nil || st.NewestImport.Bundle != mf.digest || st.Versions < 5 {
		t.Errorf("stats: %+v", st)
	}
	wantCode(t, mf.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/b/@v/v1.0.0?reason=test", token: mf.write}), 200, "delete")
	mf.get(t, api.SearchPath+"?prefix=corp.example/", 200, &sr)
	if slices.ContainsFunc(sr.Modules, func(m api.ModuleSummary) bool { return m.Path == "corp.example/b" }) {
		t.Errorf("after delete: %+v", sr.Modules)
	}
	mf.get(t, api.ModulesPath+"corp.example/b", 404, &eb)
	mf.get(t, api.ModulesPath+"modferry.test/lib", 200, &m)
	if m.DependentsTotal != 2 {
		t.Errorf("lib dependents after the delete: %+v", m.Dependents)
	}
}

// nastyQueries are query strings a client might send by mistake or on
// purpose.
var nastyQueries = []string{
	"", "q", "q=", "q=%", "q=%zz", "q=%00", "q=%ff%fe", "q=" + strings.Repeat("a", 100000), "q=" + strings.Repeat("%e2%82%ac", 5000),
	"prefix=%c0%af", "prefix=/../..", "limit=-1", "limit=99999999999999999999", "limit=1e3", "limit= 5", "limit=5&limit=6",
	"cursor=AQ", "cursor=" + strings.Repeat("A", 10000), "cursor=%00", "cursor=AWI", "cursor=Ag", "q=a&q=b&prefix=x&prefix=",
	";;;", "&&&", "=&=", "version=%00", "dependents=-2", "dependents=99999999999999999999", "dependents=-1", "version=v1.0.0&version=",
}

// doRaw sends GET path?rawQuery, the query as it is, whatever bytes it
// holds.
func (mf *metaFixture) doRaw(path, rawQuery, token string) *httptest.ResponseRecorder {
	hr := httptest.NewRequest("GET", path, nil)
	hr.URL.RawQuery = rawQuery
	hr.RequestURI = path + "?" + rawQuery
	hr.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	mf.srv.ServeHTTP(w, hr)
	return w
}

// TestMetadataNastyQueries: no query string makes any metadata route
// answer 5xx.
func TestMetadataNastyQueries(t *testing.T) {
	mf := newMetaFixture(t)
	for _, p := range []string{api.SearchPath, api.ModulesPath + "modferry.test/lib", api.ModulesPath + "nope", api.BundlesPath, api.BundlePath(mf.digest), api.StatsPath} {
		for _, q := range nastyQueries {
			w := mf.doRaw(p, q, mf.read)
			if w.Code >= 500 || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s?%.60s: %d %q", p, q, w.Code, w.Body.String())
			}
		}
	}
}

// FuzzSearchQuery sends arbitrary query strings to search and module
// pages through the real handler: never a 5xx.
func FuzzSearchQuery(f *testing.F) {
	for _, q := range nastyQueries {
		if len(q) < 200 {
			f.Add(q)
		}
	}
	mf := newMetaFixture(f)
	f.Fuzz(func(t *testing.T, q string) {
		for _, p := range []string{api.SearchPath, api.ModulesPath + "modferry.test/lib"} {
			if w := mf.doRaw(p, q, mf.read); w.Code >= 500 {
				t.Errorf("%s?%q: %d %s", p, q, w.Code, w.Body)
			}
		}
	})
}

// TestOpenAPI checks real answers of every GET operation the OpenAPI
// document describes against the schema it gives for their status code,
// and that every GET route of the API is described.
func TestOpenAPI(t *testing.T) {
	mf := newMetaFixture(t)
	w := mf.do(req{path: api.OpenAPIPath})
	wantCode(t, w, 200, "openapi.json without a token")
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	var d struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", d.OpenAPI)
	}
	if err := mf.st.Put(t.Context(), importer.SBOMName(mf.digest, api.DownloadSPDX), strings.NewReader(`{"spdxVersion":"SPDX-2.3"}`)); err != nil {
		t.Fatal(err)
	}
	lib, _ := api.ModulePath("modferry.test/lib")
	// The requests that exercise each documented operation, by status.
	cases := map[string][]struct {
		url  string
		code int
	}{
		"/api/v1/modules": {{api.SearchPath + "?q=lib", 200}, {api.SearchPath + "?limit=1", 200}, {api.SearchPath + "?cursor=x", 400}},
		"/api/v1/modules/{module}": {{lib, 200}, {api.ModulesPath + "corp.example/b", 200}, {api.ModulesPath + "modferry.test/graphonly", 200},
			{api.ModulesPath + "no.such/module", 404}, {api.ModulesPath + "Upper.case/x", 400}},
		"/api/v1/modules/{module}/@v/{version}": {{lib + "/@v/v1.1.0", 200}, {lib + "/@v/v1.9.0", 404}, {lib + "/@v/x", 400}},
		"/api/v1/bundles":                       {{api.BundlesPath, 200}},
		"/api/v1/bundles/{digest}":              {{api.BundlePath(mf.digest), 200}, {api.BundlePath("x"), 404}},
		"/api/v1/bundles/{digest}/{file}": {{api.BundlePath(mf.digest) + "/manifest.json", 200},
			{api.BundlePath(mf.digest) + "/sbom.spdx.json", 200}, {api.BundlePath(mf.digest) + "/sbom.cdx.json", 404}},
		"/api/v1/stats":        {{api.StatsPath, 200}},
		"/api/v1/openapi.json": {{api.OpenAPIPath, 200}},
	}
	// A deleted version answers 410 with a Deleted.
	wantCode(t, mf.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=x", token: mf.write}), 200, "delete")
	cases["/api/v1/modules/{module}/@v/{version}"] = append(cases["/api/v1/modules/{module}/@v/{version}"], struct {
		url  string
		code int
	}{api.ModulesPath + "corp.example/a/@v/v1.0.0", 410})

	for docPath, ops := range d.Paths {
		op, ok := ops["get"]
		if !ok || docPath == api.TokensPath {
			continue // the admin scope's GET: TestOpenAPIChanges
		}
		if len(cases[docPath]) == 0 {
			t.Errorf("%s: documented, but the test has no request for it", docPath)
		}
		for _, tc := range cases[docPath] {
			resp := mf.do(req{path: tc.url, token: mf.read})
			if resp.Code != tc.code {
				t.Errorf("GET %s: %d, want %d: %s", tc.url, resp.Code, tc.code, resp.Body)
				continue
			}
			r, ok := op.Responses[itoa(tc.code)]
			if !ok {
				t.Errorf("GET %s: status %d is not documented for %s", tc.url, tc.code, docPath)
				continue
			}
			ct := strings.TrimSpace(strings.Split(resp.Header().Get("Content-Type"), ";")[0])
			if _, ok := r.Content[ct]; !ok {
				t.Errorf("GET %s: Content-Type %q is not documented", tc.url, ct)
				continue
			}
			loc := "openapi.json#/paths/" + escapePointer(docPath) + "/get/responses/" + itoa(tc.code) + "/content/" + escapePointer(ct) + "/schema"
			sch, err := c.Compile(loc)
			if err != nil {
				t.Fatalf("%s: %v", loc, err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(resp.Body.Bytes()))
			if err != nil {
				t.Errorf("GET %s: %v", tc.url, err)
				continue
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("GET %s (%d) does not match the document:\n%v\n%s", tc.url, tc.code, err, resp.Body)
			}
		}
	}
	for p := range cases {
		if _, ok := d.Paths[p]; !ok {
			t.Errorf("%s: tested but not documented", p)
		}
	}
	// Every GET route of the API is documented: each is reached by one
	// of the documented requests.
	reached := map[string]bool{}
	for _, tcs := range cases {
		for _, tc := range tcs {
			hr, _ := http.NewRequest("GET", tc.url, nil)
			_, pat := mf.srv.apiMux.Handler(hr)
			reached[pat] = true
		}
	}
	for _, rt := range mf.srv.routeTable() {
		if strings.HasPrefix(rt.pattern, "GET "+api.Prefix) && !reached[rt.pattern] && !strings.HasPrefix(rt.pattern, "GET "+api.TokensPath) {
			t.Errorf("%s is not documented in the OpenAPI document", rt.pattern)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// escapePointer escapes s as a JSON Pointer token, in a URL fragment.
func escapePointer(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	s = strings.ReplaceAll(s, "/", "~1")
	return url.PathEscape(s)
}

// TestMetadataWhileChanging runs the catalog's background refresh and
// metadata requests while versions are published and deleted through the
// API (run it with -race); at the end every published version is found.
func TestMetadataWhileChanging(t *testing.T) {
	mf := newMetaFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { mf.srv.Catalog().Run(ctx, 5*time.Millisecond, nil) })
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				for _, p := range []string{api.SearchPath + "?q=corp", api.ModulesPath + "modferry.test/lib", api.BundlesPath, api.StatsPath} {
					if w := mf.do(req{path: p, token: mf.read}); w.Code != 200 {
						t.Errorf("GET %s: %d %s", p, w.Code, w.Body)
					}
				}
			}
		})
	}
	const n = 8
	for i := range n {
		v := module.Version{Path: fmt.Sprintf("corp.example/c%d", i), Version: "v1.0.0"}
		gomod := "module " + v.Path + "\n\nrequire modferry.test/lib v1.1.0\n"
		body, ct := upload(t, v, gomod, map[string]string{"go.mod": gomod, "c.go": "package c\n"})
		if w := mf.do(req{method: "PUT", path: "/api/v1/modules/" + v.Path + "/@v/v1.0.0", token: mf.write, body: body, contentType: ct}); w.Code != 201 {
			t.Fatalf("publish %s: %d %s", v, w.Code, w.Body)
		}
		if i%2 == 1 {
			if w := mf.do(req{method: "DELETE", path: "/api/v1/modules/" + v.Path + "/@v/v1.0.0?reason=x", token: mf.write}); w.Code != 200 {
				t.Fatalf("delete %s: %d %s", v, w.Code, w.Body)
			}
		}
	}
	cancel()
	wg.Wait()
	var sr api.SearchResult
	mf.get(t, api.SearchPath+"?prefix=corp.example/c", 200, &sr)
	var got []string
	for _, m := range sr.Modules {
		got = append(got, m.Path)
	}
	if want := []string{"corp.example/c0", "corp.example/c2", "corp.example/c4", "corp.example/c6"}; !slices.Equal(got, want) {
		t.Errorf("after the changes: %v, want %v", got, want)
	}
	var m api.Module
	mf.get(t, api.ModulesPath+"modferry.test/lib", 200, &m)
	if m.DependentsTotal != 3+4 { // app, Tool, corp.example/b and c0, c2, c4, c6
		t.Errorf("lib dependents: %d %+v", m.DependentsTotal, m.Dependents)
	}
}
