package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/web"
)

// FuzzRequest sends arbitrary requests (method, path and query, the way a
// token is given) through the whole server of newMetaFixture, which has
// tokens, an imported bundle and a published module. Whatever comes in:
// no panic, no 5xx, nothing but the public routes answered 2xx without a
// valid token, and no change (PUT, POST, DELETE) accepted with the read
// token.
func FuzzRequest(f *testing.F) {
	for _, p := range []string{
		"/", "/healthz", "/metrics", api.OpenAPIPath, "/static/app.css", "/login",
		"/modferry.test/lib/@v/list", "/modferry.test/lib/@v/v1.1.0.zip", "/modferry.test/lib/@latest",
		"/modferry.test/!tool/@v/v2.0.0+incompatible.info", "/modferry.test/lib/@v/v9.9.9.mod",
		"/sumdb/sum.golang.org/lookup/modferry.test/lib@v1.1.0", "/sumdb/sum.golang.org/tile/8/0/000",
		"/vulndb/index/db.json", api.SearchPath + "?q=lib&limit=2", api.ModulesPath + "modferry.test/lib",
		api.ModulesPath + "corp.example/b/@v/v1.0.0", api.BundlesPath, api.StatsPath, api.TokensPath,
		"/modules/modferry.test/lib", "/bundles", "/diff?from=a&to=b", "/stats", "/%2e%2e/x", "//x/@v/list",
		"/a.b/../../@v/list", "/x.y/@v/%ff.info",
	} {
		for auth := range byte(5) {
			f.Add(byte(0), p, auth)
		}
	}
	f.Add(byte(2), api.ModulesPath+"corp.example/b/@v/v1.0.0", byte(2))
	f.Add(byte(3), api.BundlesPath, byte(2))
	mf := newMetaFixture(f)
	methods := []string{"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "BREW"}
	public := []string{"/healthz", api.OpenAPIPath, "/static/", "/login", "/logout"}
	f.Fuzz(func(t *testing.T, m byte, target string, authKind byte) {
		method := methods[int(m)%len(methods)]
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t\x00") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		hr := httptest.NewRequest(method, "/", nil)
		hr.URL, hr.RequestURI = u, target
		valid := false
		switch authKind % 5 {
		case 1:
			hr.Header.Set("Authorization", "Bearer "+mf.read)
			valid = true
		case 2:
			hr.SetBasicAuth("anyone", mf.read)
			valid = true
		case 3:
			hr.AddCookie(&http.Cookie{Name: web.CookieName, Value: mf.read})
			valid = true
		case 4:
			hr.Header.Set("Authorization", "Bearer mf_"+strings.Repeat("A", 43))
		}
		w := httptest.NewRecorder()
		mf.srv.ServeHTTP(w, hr)
		if w.Code >= 500 {
			t.Fatalf("%s %q (auth %d): %d %s", method, target, authKind%5, w.Code, w.Body)
		}
		if w.Code < 200 || w.Code > 299 {
			return
		}
		if !valid {
			ok := false
			for _, p := range public {
				ok = ok || u.Path == p || strings.HasPrefix(p, "/static/") && strings.HasPrefix(u.Path, p)
			}
			if !ok {
				t.Fatalf("%s %q without a valid token: %d", method, target, w.Code)
			}
		}
		if method != "GET" && method != "HEAD" && method != "OPTIONS" && u.Path != "/login" && u.Path != "/logout" {
			t.Fatalf("%s %q with the read token: %d", method, target, w.Code)
		}
	})
}
