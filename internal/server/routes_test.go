package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/auth"
)

// samplePath is a request path that pattern's path matches.
func samplePath(pattern string) string {
	_, p, _ := strings.Cut(pattern, " ")
	p = strings.ReplaceAll(p, "{version...}", "corp.example/a/@v/v1.0.0")
	p = strings.ReplaceAll(p, "{name}", "nobody")
	p = strings.ReplaceAll(p, "{rest...}", "corp.example/a")
	p = strings.ReplaceAll(p, "{digest}", strings.Repeat("0", 64))
	p = strings.ReplaceAll(p, "{file}", api.DownloadManifest)
	if p == "/" {
		return "/corp.example/a/@v/list"
	}
	if strings.HasSuffix(p, "/") {
		p += "x"
	}
	return p
}

// TestRouteScopes walks the route table: every route is a method pattern,
// registered once; every API route needs exactly one scope, the one its
// method and path call for; and a request to each route is refused for
// lack of exactly that scope.
func TestRouteScopes(t *testing.T) {
	f := newFixture(t, Config{})
	seen := map[string]bool{}
	var apiRoutes int
	for _, rt := range f.srv.routeTable() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok || !slices.Contains([]string{"GET", "PUT", "POST", "DELETE"}, method) || !strings.HasPrefix(path, "/") {
			t.Errorf("%q: not METHOD /PATH", rt.pattern)
		}
		if seen[rt.pattern] {
			t.Errorf("%q: registered twice", rt.pattern)
		}
		seen[rt.pattern] = true
		if rt.need != needNone && (int(rt.need) >= len(needScope) || needScope[rt.need] == "") {
			t.Errorf("%q: need %d names no scope", rt.pattern, rt.need)
		}
		if !isAPI(rt.pattern) {
			continue
		}
		apiRoutes++
		want := needWrite
		switch {
		case strings.HasPrefix(path, api.TokensPath):
			want = needAdmin
		case path == api.OpenAPIPath:
			want = needNone // it describes the API, not the store
		case method == "GET":
			want = needRead
		case method == "DELETE":
			want = needDelete
		}
		if rt.need != want {
			t.Errorf("%q needs %q, want %q", rt.pattern, needScope[rt.need], needScope[want])
		}
		if rt.ep != f.srv.epAPI {
			t.Errorf("%q: not counted as an API request", rt.pattern)
		}
	}
	if apiRoutes != 14 {
		t.Errorf("%d API routes, want 14", apiRoutes)
	}

	// Each route refuses a token with every scope but its own, and takes
	// one with only its own.
	all := []auth.Scope{auth.ScopeRead, auth.ScopeWrite, auth.ScopeDelete, auth.ScopeAdmin}
	for i, rt := range f.srv.routeTable() {
		method, _, _ := strings.Cut(rt.pattern, " ")
		path := samplePath(rt.pattern)
		if rt.need == needNone {
			resp := f.do(req{method: method, path: path})
			if resp.Code == 401 || resp.Code == 403 {
				t.Errorf("%s %s without a token: %d %s", method, path, resp.Code, resp.Body)
			}
			continue
		}
		scope := needScope[rt.need]
		others := slices.DeleteFunc(slices.Clone(all), func(s auth.Scope) bool { return s == scope })
		without := f.add(t, fmt.Sprintf("without-%d", i), others...)
		with := f.add(t, fmt.Sprintf("with-%d", i), scope)
		resp := f.do(req{method: method, path: path, token: without})
		if resp.Code != 403 || !strings.Contains(resp.Body.String(), "lacks the "+string(scope)+" scope") {
			t.Errorf("%s %s with %v: %d %s; want 403 for lack of %s", method, path, others, resp.Code, resp.Body, scope)
		}
		resp = f.do(req{method: method, path: path, token: with})
		if resp.Code == 401 || strings.Contains(resp.Body.String(), "lacks the") {
			t.Errorf("%s %s with %s: %d %s", method, path, scope, resp.Code, resp.Body)
		}
	}
}

// TestMethodNotAllowed: the mux answers 405 with Allow to a method no
// route of the path has, counted under the path's endpoint.
func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.add(t, "admin", auth.ScopeAdmin, auth.ScopeRead)
	for _, tc := range []struct {
		method, path, allow, endpoint string
	}{
		{"DELETE", "/healthz", "GET, HEAD", "healthz"},
		{"POST", "/metrics", "GET, HEAD", "metrics"},
		{"PUT", "/corp.example/a/@v/v1.0.0.zip", "GET, HEAD", "zip"},
		{"POST", "/corp.example/a/@v/list", "GET, HEAD", "list"},
		{"DELETE", "/sumdb/x/latest", "GET, HEAD", "sumdb"},
		{"PATCH", "/api/v1/modules/corp.example/a/@v/v1.0.0", "DELETE, GET, HEAD, POST, PUT", "api"},
		{"PUT", api.BundlesPath, "GET, HEAD, POST", "api"}, // GET is the import history (issue 11)
		{"PUT", api.TokensPath, "GET, HEAD, POST", "api"},
		{"GET", api.TokenPath("ci"), "DELETE", "api"},
	} {
		before := requests(t, f.srv, tc.endpoint, "405")
		resp := f.do(req{method: tc.method, path: tc.path, token: admin})
		if resp.Code != http.StatusMethodNotAllowed || resp.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tc.method, tc.path, resp.Code, resp.Header().Get("Allow"), tc.allow)
		}
		if n := requests(t, f.srv, tc.endpoint, "405") - before; n != 1 {
			t.Errorf("%s %s: %v 405s counted under %s, want 1", tc.method, tc.path, n, tc.endpoint)
		}
	}

	// A path no API route has: a JSON 404, as every API error.
	for _, m := range []string{"GET", "POST"} {
		resp := f.do(req{method: m, path: "/api/v1/nothing", token: admin})
		if resp.Code != 404 || resp.Header().Get("Content-Type") != "application/json" || !strings.Contains(resp.Body.String(), `"error": "no such API endpoint"`) {
			t.Errorf("%s /api/v1/nothing: %d %q %s", m, resp.Code, resp.Header().Get("Content-Type"), resp.Body)
		}
	}
}

// requests reads modferry_http_requests_total{endpoint, code} from the
// server's registry.
func requests(t *testing.T, s *Server, endpoint, code string) float64 {
	t.Helper()
	mfs, err := s.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "modferry_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == endpoint && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestProxyFastPath: a request ServeHTTP hands to the GOPROXY route
// without the mux gets exactly the answer the mux gives it (status,
// headers but Date, body) and is counted under the same endpoint; and
// the fast path is on for the server's route table.
func TestProxyFastPath(t *testing.T) {
	f := newFixture(t, Config{})
	if !f.srv.fastProxy {
		t.Fatal("the fast path is off: a route other than the GOPROXY catch-all can take a path whose first element has a dot")
	}
	tok := f.add(t, "reader", auth.ScopeRead)
	paths := []string{
		"/corp.example/a/@v/list", "/corp.example/a/@v/v1.0.0.info", "/corp.example/a/@v/v1.0.0.mod",
		"/corp.example/a/@v/v1.0.0.zip", "/corp.example/a/@latest", "/corp.example/a/@v/v9.9.9.info",
		"/corp.example/b/@v/list", "/corp.example/a/@v/", "/corp.example/a/", "/corp.example",
		"/corp.example//a/@v/list", "/corp.example/./a/@v/list", "/corp.example/x/../a/@v/list",
		"/corp.example/a/@v/list/.", "/corp.example/a/@v/list/..", "/corp.example/%41/@v/list",
		"/corp%2Eexample/a/@v/list", "/corp.example/a%2F@v/list", "/corp.example/a/@v/v1.0.0.info?x=1",
		"/", "/healthz", "/metrics", "/modules/corp.example/a", "/static/x.css", "/sumdb/x/latest",
		"/api/v1/modules/corp.example/a", "/nodot/@v/list",
	}
	// do serves one request and returns the answer and the endpoint
	// whose request count grew.
	do := func(fast bool, method, path, token string) (*httptest.ResponseRecorder, string) {
		f.srv.fastProxy = fast
		defer func() { f.srv.fastProxy = true }()
		before := endpointTotals(t, f.srv)
		resp := f.do(req{method: method, path: path, token: token})
		resp.Header().Del("Date")
		for ep, n := range endpointTotals(t, f.srv) {
			if n != before[ep] {
				return resp, ep
			}
		}
		return resp, ""
	}
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE"} {
		for _, p := range paths {
			for _, token := range []string{"", tok} {
				fast, fastEP := do(true, method, p, token)
				slow, slowEP := do(false, method, p, token)
				sameBody := fast.Body.String() == slow.Body.String() || p == "/metrics" // its counts moved
				if fast.Code != slow.Code || !sameBody || fmt.Sprint(fast.Header()) != fmt.Sprint(slow.Header()) {
					t.Errorf("%s %s: fast path %d %v %.200q, mux %d %v %.200q", method, p, fast.Code, fast.Header(), fast.Body, slow.Code, slow.Header(), slow.Body)
				}
				if fastEP != slowEP || fastEP == "" {
					t.Errorf("%s %s: counted under %q by the fast path, %q by the mux", method, p, fastEP, slowEP)
				}
			}
		}
	}
}

// TestDotFree: a route that could take a path whose first element has
// a dot turns the fast path off.
func TestDotFree(t *testing.T) {
	for pattern, want := range map[string]bool{
		"GET /healthz": true, "GET /{$}": true, "GET /static/": true, "POST /api/v1/x/{name}": true,
		"GET /corp.example/x": false, "GET /{host}/x": false, "GET /{path...}": false, "corp.example/": false,
		"/healthz": false,
	} {
		rts := []route{{pattern: goproxyPattern}, {pattern: pattern}}
		if got := dotFree(rts); got != want {
			t.Errorf("dotFree with %q = %v, want %v", pattern, got, want)
		}
	}
}

// endpointTotals sums modferry_http_requests_total by endpoint.
func endpointTotals(t *testing.T, s *Server) map[string]float64 {
	t.Helper()
	mfs, err := s.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "modferry_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
