package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/web"
)

// A route is one ServeMux pattern, with a method, and the one scope a
// request to it needs: the route table is the access-control table, so
// the two cannot drift apart. Method patterns make the mux answer 405,
// with Allow, to any other method.
type route struct {
	pattern string
	need    need
	ep      *endpointStats // nil: the GOPROXY catch-all, counted by path (proxyEndpoint)
	serve   func(w http.ResponseWriter, r *http.Request, token string)
}

// routeTable returns the server's routes. Those under api.Prefix go on
// a mux of their own (see serveAPI).
func (s *Server) routeTable() []route {
	version := api.ModulesPath + "{version...}"
	return append([]route{
		{"GET /healthz", needNone, s.epHealth, handler(http.HandlerFunc(s.healthz))},
		{"GET /metrics", needRead, s.epMetrics, handler(s.promh)},
		// No module path starts with "sumdb/", "vulndb/", "healthz",
		// "metrics" or "api/": its first element has a dot.
		{"GET /sumdb/", needRead, s.epSumDB, handler(s.sumdb)},
		{"GET /vulndb/", needRead, s.epVulnDB, handler(s.vulndb)},
		// The GOPROXY protocol is one catch-all route: its paths are module
		// paths of any depth followed by /@v/..., /@latest, and a ServeMux
		// wildcard cannot stand before a literal (a {x...} wildcard ends a
		// pattern); package proxy parses them. (The mux redirects a path
		// with //, . or .. elements to its clean form; no module path has
		// such elements.)
		{goproxyPattern, needRead, nil, handler(s.goproxy)},

		// A GET under ModulesPath is a module version when its path holds
		// "/@v/", else a module page (apiModuleGET).
		{"GET " + api.ModulesPath + "{rest...}", needRead, s.epAPI, s.apiModuleGET},
		{"PUT " + version, needWrite, s.epAPI, withVersion(s.apiPublish)},
		{"POST " + version, needWrite, s.epAPI, withVersion(s.apiPublish)},
		{"DELETE " + version, needDelete, s.epAPI, withVersion(s.apiDelete)},
		{"POST " + api.BundlesPath, needWrite, s.epAPI, s.apiImport},
		// The metadata API (metadata.go); GET on BundlesPath is the import
		// history, POST an upload.
		{"GET " + api.SearchPath, needRead, s.epAPI, s.apiSearch},
		{"GET " + api.BundlesPath, needRead, s.epAPI, s.apiBundles},
		{"GET " + api.BundlesPath + "/{digest}", needRead, s.epAPI, s.apiBundle},
		{"GET " + api.BundlesPath + "/{digest}/{file}", needRead, s.epAPI, s.apiBundleFile},
		{"GET " + api.StatsPath, needRead, s.epAPI, s.apiStats},
		{"GET " + api.OpenAPIPath, needNone, s.epAPI, apiOpenAPI},
		{"GET " + api.TokensPath, needAdmin, s.epAPI, s.apiTokenList},
		{"POST " + api.TokensPath, needAdmin, s.epAPI, s.apiTokenAdd},
		{"DELETE " + api.TokensPath + "/{name}", needAdmin, s.epAPI, s.apiTokenRevoke},
	}, s.webRouteTable()...)
}

// goproxyPattern is the GOPROXY catch-all route.
const goproxyPattern = "GET /"

// proxyPath reports whether the mux would hand r to the GOPROXY
// catch-all without a redirect, provided no other route can match a
// path whose first element has a dot (dotFree): r is a GET or HEAD
// (a GET pattern takes both), its path is clean (the mux redirects
// others to their clean form) and its first element has a dot, as
// every module path's has. ServeHTTP then skips the mux: routing was
// the largest part of the server's own work on a cached .info.
func proxyPath(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.EscapedPath()
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	first, _, _ := strings.Cut(p[1:], "/")
	if !strings.Contains(first, ".") {
		return false
	}
	// Clean: no "." or ".." element and no "//" (path.Clean would
	// change it; the mux keeps a trailing slash).
	for elem := range strings.SplitSeq(p[1:], "/") {
		if elem == "." || elem == ".." {
			return false
		}
	}
	return !strings.Contains(p, "//")
}

// dotFree reports whether every route but the GOPROXY catch-all has a
// path whose first element is a literal without a dot, so that only the
// catch-all can take a path whose first element has one.
func dotFree(rts []route) bool {
	for _, rt := range rts {
		if rt.pattern == goproxyPattern {
			continue
		}
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok || method == "" || !strings.HasPrefix(path, "/") {
			return false // a host or a pattern without a method
		}
		first, _, _ := strings.Cut(path[1:], "/")
		if first != "{$}" && strings.ContainsAny(first, ".{") { // "/{$}" is "/" alone
			return false
		}
	}
	return true
}

// webRouteTable returns the web catalog's routes (package web): "/"
// itself ("GET /{$}", so the GOPROXY catch-all keeps every longer path)
// and paths under "modules/", "bundles", "diff", "stats", "static/",
// "login" and "logout". No module path starts with those: its first
// element has a dot. Pages need the read scope; the login form, logout
// and the static files need none.
func (s *Server) webRouteTable() []route {
	var rts []route
	for _, wr := range s.web.Routes() {
		n := needNone
		if wr.Read {
			n = needRead
		}
		rts = append(rts, route{wr.Pattern, n, s.epWeb, handler(wr.Handler)})
	}
	return rts
}

// webAuth prepares a request to a web catalog route: the login cookie's
// token counts as the request's token, and a page that needs a token and
// has none (or only a cookie whose token no longer works) redirects to
// the login form. It returns the request to serve, or ok false when it
// answered.
func (s *Server) webAuth(w http.ResponseWriter, r *http.Request, n need, now time.Time) (_ *http.Request, ok bool) {
	withCookie := web.CookieToken(r)
	if n != needRead || s.gate.openRead(now) {
		return withCookie, true
	}
	secret, has := auth.FromRequest(withCookie)
	if !has {
		web.LoginRedirect(w, r)
		return nil, false
	}
	if withCookie != r && s.gate.tokens != nil {
		if _, err := s.gate.tokens.Authenticate(secret); errors.Is(err, auth.ErrExpired) || errors.Is(err, auth.ErrUnknownToken) {
			web.LoginRedirect(w, r)
			return nil, false
		}
	}
	return withCookie, true
}

// isAPI reports whether a route pattern is an API route.
func isAPI(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	return strings.HasPrefix(path, api.Prefix)
}

// handler adapts a handler that needs no token name.
func handler(h http.Handler) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, _ string) { h.ServeHTTP(w, r) }
}

// withVersion adapts a handler of the module version that the route's
// {version} names, answering 400 if it names none.
func withVersion(h func(w http.ResponseWriter, r *http.Request, v module.Version, actor string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, token string) {
		v, err := api.ParseVersion(r.PathValue("version"))
		if err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		h(w, r, v, actorOf(token))
	}
}

// guard returns the handler the mux calls for rt: it counts the request
// under rt's endpoint, checks its scope and serves it.
func (s *Server) guard(rt route) http.Handler {
	web := s.webRoutes[rt.pattern]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, ok := w.(*recorder)
		if !ok { // not through ServeHTTP
			rec = &recorder{ResponseWriter: w, start: time.Now()}
			w = rec
		}
		rec.ep = rt.ep
		if rec.ep == nil {
			rec.ep = s.proxyEndpoint(r.URL.Path)
		}
		if web {
			var ok bool
			if r, ok = s.webAuth(w, r, rt.need, rec.start); !ok {
				return
			}
		}
		if token, ok := s.authorize(w, r, rt.need, rec.start); ok {
			rt.serve(w, r, token)
		}
	})
}

// proxyEndpoint is the endpoint a GOPROXY request is counted under.
func (s *Server) proxyEndpoint(path string) *endpointStats {
	switch {
	case strings.HasSuffix(path, ".info"):
		return s.epInfo
	case strings.HasSuffix(path, ".mod"):
		return s.epMod
	case strings.HasSuffix(path, ".zip"):
		return s.epZip
	case strings.HasSuffix(path, "/@v/list"):
		return s.epList
	case strings.HasSuffix(path, "/@latest"):
		return s.epLatest
	}
	return s.epOther
}

// serveAPI serves a request under api.Prefix. The API has a mux of its
// own: on the main one, the GOPROXY catch-all ("GET /") would take every
// GET that the API has no route for, where the API answers 405. A path
// that no API route matches with any method gets a JSON 404, as every API
// error has a JSON body.
func (s *Server) serveAPI(w *recorder, r *http.Request) {
	if _, p := s.apiMux.Handler(r); p == "" && !s.apiPath(r) {
		apiError(w, http.StatusNotFound, "no such API endpoint")
	} else {
		s.apiMux.ServeHTTP(w, r)
	}
	w.ep = s.epAPI
}

// apiPath reports whether an API route matches the path of r with some
// method.
func (s *Server) apiPath(r *http.Request) bool {
	probe := r.Clone(r.Context())
	for _, m := range s.apiMethods {
		probe.Method = m
		if _, p := s.apiMux.Handler(probe); p != "" {
			return true
		}
	}
	return false
}

// endpointOf is the endpoint of a request that no route took, answered by
// the mux itself (405, or a redirect to the clean path): that of the GET
// route at its path, which always exists.
func (s *Server) endpointOf(r *http.Request) *endpointStats {
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	if _, p := s.mux.Handler(get); p != "" {
		if ep := s.routeEP[p]; ep != nil {
			return ep
		}
	}
	return s.proxyEndpoint(r.URL.Path)
}
