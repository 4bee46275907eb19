package server

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/web"
)

// FuzzRequest sends arbitrary requests (method, path and query, the way a
// token is given, a form body) through the whole server of
// newMetaFixture, which has tokens, an imported bundle and a published
// module. Whatever comes in: no panic, no 5xx, nothing but the public
// routes answered 2xx without a valid token, no change (PUT, POST,
// DELETE) accepted with the read token, no login cookie but for a valid
// token, and no redirect off this server (the login form's next=).
func FuzzRequest(f *testing.F) {
	mf := newMetaFixture(f)
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
			f.Add(byte(0), p, auth, []byte(nil))
		}
	}
	f.Add(byte(2), api.ModulesPath+"corp.example/b/@v/v1.0.0", byte(2), []byte("x"))
	f.Add(byte(3), api.BundlesPath, byte(2), []byte(nil))
	for _, next := range []string{"/modules/modferry.test/lib", "//evil.example/", "/\\evil.example", "https://evil.example/", "/%2F%2Fevil"} {
		f.Add(byte(3), "/login", byte(0), []byte("next="+url.QueryEscape(next)+"&token="+mf.read))
		f.Add(byte(3), "/login?next="+url.QueryEscape(next), byte(0), []byte("token=mf_x"))
	}
	f.Add(byte(3), "/logout", byte(3), []byte(nil))
	methods := []string{"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "BREW"}
	public := []string{"/healthz", api.OpenAPIPath, "/static/", "/login", "/logout"}
	var clients atomic.Uint32
	f.Fuzz(func(t *testing.T, m byte, target string, authKind byte, body []byte) {
		method := methods[int(m)%len(methods)]
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t\x00") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		hr := httptest.NewRequest(method, "/", bytes.NewReader(body))
		hr.URL, hr.RequestURI = u, target
		// Each request from a client of its own: the limiter of failed
		// logins would otherwise refuse the login form (429) after the
		// first few wrong tokens, and hide what comes after it.
		n := clients.Add(1)
		hr.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", byte(n>>16), byte(n>>8), byte(n))
		if len(body) > 0 {
			hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			hr.Header.Set("Origin", "http://"+hr.Host) // the login and logout forms want their own page
		}
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
		for _, c := range w.Result().Cookies() {
			if c.Name == web.CookieName && c.Value != "" && c.Value != mf.read {
				t.Fatalf("%s %q set a login cookie for %q, not a valid token", method, target, c.Value)
			}
		}
		if loc := w.Header().Get("Location"); w.Code >= 300 && w.Code < 400 {
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
				t.Fatalf("%s %q redirects off this server: Location %q", method, target, loc)
			}
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
