package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/auth"
)

// openAPIDoc is the served OpenAPI document, parsed, with a compiler of
// its schemas.
type openAPIDoc struct {
	c     *jsonschema.Compiler
	paths map[string]map[string]struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	}
}

func loadOpenAPI(t *testing.T, f *fixture) *openAPIDoc {
	t.Helper()
	w := f.do(req{path: api.OpenAPIPath})
	wantCode(t, w, 200, "openapi.json")
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	d := &openAPIDoc{c: jsonschema.NewCompiler()}
	d.c.DefaultDraft(jsonschema.Draft2020)
	if err := d.c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Paths json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw.Paths, &d.paths); err != nil {
		t.Fatal(err)
	}
	return d
}

// check reports whether the document describes resp as an answer of the
// operation method docPath: its status, its Content-Type, and its body
// against the schema given for them.
func (d *openAPIDoc) check(t *testing.T, what, method, docPath string, resp *httptest.ResponseRecorder) {
	t.Helper()
	m := strings.ToLower(method)
	op, ok := d.paths[docPath][m]
	if !ok {
		t.Errorf("%s: %s %s is not documented", what, method, docPath)
		return
	}
	code := itoa(resp.Code)
	r, ok := op.Responses[code]
	if !ok {
		t.Errorf("%s: status %s is not documented for %s %s\n%s", what, code, method, docPath, resp.Body)
		return
	}
	ct := strings.TrimSpace(strings.Split(resp.Header().Get("Content-Type"), ";")[0])
	if _, ok := r.Content[ct]; !ok {
		t.Errorf("%s (%s): Content-Type %q is not documented\n%s", what, code, ct, resp.Body)
		return
	}
	loc := "openapi.json#/paths/" + escapePointer(docPath) + "/" + m + "/responses/" + code + "/content/" + escapePointer(ct) + "/schema"
	sch, err := d.c.Compile(loc)
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(resp.Body.Bytes()))
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s (%s) does not match the document:\n%v\n%s", what, code, err, resp.Body)
	}
}

// TestOpenAPIChanges checks the answers of the operations that change
// the store or the tokens (publish, delete, bundle upload, tokens), with
// each documented status the test can bring about, against the OpenAPI
// document; and that every API route, whatever its method, is
// documented.
func TestOpenAPIChanges(t *testing.T) {
	mf := newMetaFixture(t)
	d := loadOpenAPI(t, mf.fixture)
	admin := mf.add(t, "a", auth.ScopeAdmin)
	const versionDoc = "/api/v1/modules/{module}/@v/{version}"
	v := module.Version{Path: "corp.example/d", Version: "v1.0.0"}
	vp, _ := api.VersionPath(v)
	gomod := "module corp.example/d\n"
	publishBody := func() (*bytes.Reader, string) {
		body, ct := upload(t, v, gomod, map[string]string{"go.mod": gomod, "d.go": "package d\n"})
		var b bytes.Buffer
		b.ReadFrom(body)
		return bytes.NewReader(b.Bytes()), ct
	}
	type tc struct {
		what    string
		r       req
		code    int
		docPath string
	}
	body, ct := publishBody()
	body2, ct2 := publishBody()
	e := module.Version{Path: "corp.example/e", Version: "v1.0.0"}
	ep, _ := api.VersionPath(e)
	ebody, ect := upload(t, e, "module corp.example/e\n", map[string]string{"go.mod": "module corp.example/e\n", "e.go": "package e\n"})
	cases := []tc{
		{"publish", req{method: "PUT", path: vp, token: mf.write, body: body, contentType: ct}, 201, versionDoc},
		{"publish again", req{method: "PUT", path: vp, token: mf.write, body: body2, contentType: ct2}, 409, versionDoc},
		{"publish with POST", req{method: "POST", path: ep, token: mf.write, body: ebody, contentType: ect}, 201, versionDoc},
		{"publish a bad body", req{method: "PUT", path: api.ModulesPath + "corp.example/f/@v/v1.0.0", token: mf.write, body: strings.NewReader("x"), contentType: "text/plain"}, 400, versionDoc},
		{"publish with a read token", req{method: "PUT", path: api.ModulesPath + "corp.example/f/@v/v1.0.0", token: mf.read, body: strings.NewReader("x")}, 403, versionDoc},
		{"publish without a token", req{method: "PUT", path: api.ModulesPath + "corp.example/f/@v/v1.0.0", body: strings.NewReader("x")}, 401, versionDoc},
		{"publish a bad version", req{method: "PUT", path: api.ModulesPath + "corp.example/f/@v/x", token: mf.write, body: strings.NewReader("x")}, 400, versionDoc},
		{"delete", req{method: "DELETE", path: vp + "?reason=test", token: mf.write}, 200, versionDoc},
		{"delete without a reason", req{method: "DELETE", path: ep, token: mf.write}, 400, versionDoc},
		{"delete an unknown version", req{method: "DELETE", path: api.ModulesPath + "corp.example/none/@v/v1.0.0?reason=x", token: mf.write}, 404, versionDoc},
		{"delete with a read token", req{method: "DELETE", path: ep + "?reason=x", token: mf.read}, 403, versionDoc},
		{"upload a bundle again", req{method: "POST", path: api.BundlesPath, token: mf.write, body: bytes.NewReader(mf.bundle), contentType: "application/zstd"}, 200, api.BundlesPath},
		{"upload a bad bundle", req{method: "POST", path: api.BundlesPath, token: mf.write, body: strings.NewReader("not a bundle"), contentType: "application/zstd"}, 400, api.BundlesPath},
		{"upload with a read token", req{method: "POST", path: api.BundlesPath, token: mf.read, body: strings.NewReader("x")}, 403, api.BundlesPath},
		{"list tokens", req{path: api.TokensPath, token: admin}, 200, api.TokensPath},
		{"list tokens with a write token", req{path: api.TokensPath, token: mf.write}, 403, api.TokensPath},
		{"add a token", req{method: "POST", path: api.TokensPath, token: admin, body: strings.NewReader(`{"name":"ci","scopes":["read","write"]}`), contentType: "application/json"}, 201, api.TokensPath},
		{"add it again", req{method: "POST", path: api.TokensPath, token: admin, body: strings.NewReader(`{"name":"ci","scopes":["read"]}`), contentType: "application/json"}, 409, api.TokensPath},
		{"add a bad token", req{method: "POST", path: api.TokensPath, token: admin, body: strings.NewReader(`{"name":"x","scopes":["root"]}`), contentType: "application/json"}, 400, api.TokensPath},
		{"revoke a token", req{method: "DELETE", path: api.TokenPath("ci"), token: admin}, 200, api.TokensPath + "/{name}"},
		{"revoke an unknown token", req{method: "DELETE", path: api.TokenPath("nobody"), token: admin}, 404, api.TokensPath + "/{name}"},
		{"revoke with a read token", req{method: "DELETE", path: api.TokenPath("a"), token: mf.read}, 403, api.TokensPath + "/{name}"},
	}
	reached := map[string]bool{}
	for _, c := range cases {
		w := mf.do(c.r)
		if w.Code != c.code {
			t.Errorf("%s: %s %s: %d, want %d\n%s", c.what, c.r.method, c.r.path, w.Code, c.code, w.Body)
			continue
		}
		d.check(t, c.what, cmpMethod(c.r.method), c.docPath, w)
		hr := httptest.NewRequest(cmpMethod(c.r.method), c.r.path, nil)
		_, pat := mf.srv.apiMux.Handler(hr)
		reached[pat] = true
	}
	// The publish shows on the module page, with the licence of nothing
	// recognised, as the document describes it.
	w := mf.do(req{path: api.ModulesPath + "corp.example/e", token: mf.read})
	d.check(t, "module page of a publish", "GET", "/api/v1/modules/{module}", w)
	var m api.Module
	if json.Unmarshal(w.Body.Bytes(), &m) != nil || len(m.Versions) != 1 || m.Versions[0].Licenses == nil {
		t.Errorf("module page of a publish: %s", w.Body)
	}

	// Every API route that is not a GET is documented, and exercised
	// above; the GET routes are TestOpenAPI's.
	for _, rt := range mf.srv.routeTable() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if !isAPI(rt.pattern) || (method == "GET" && path != api.TokensPath) {
			continue
		}
		if !reached[rt.pattern] {
			t.Errorf("%s: no request of the test reaches it", rt.pattern)
		}
	}
	for docPath, ops := range d.paths {
		for m := range ops {
			if m == "get" && docPath != api.TokensPath {
				continue
			}
			found := false
			for _, c := range cases {
				found = found || (c.docPath == docPath && strings.EqualFold(cmpMethod(c.r.method), m))
			}
			if !found {
				t.Errorf("%s %s: documented, but the test has no request for it", m, docPath)
			}
		}
	}
}

func cmpMethod(m string) string {
	if m == "" {
		return http.MethodGet
	}
	return m
}
