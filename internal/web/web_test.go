package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/web"
)

// TestEscaping: every page shows the store's data (project names, licence
// names, file names, deprecation and retraction messages full of HTML and
// script characters) escaped: no raw tag from the data reaches the page,
// and the escaped text does.
func TestEscaping(t *testing.T) {
	s := newSite(t, false, true)
	raw := []string{"<script>alert", "<img src=x", "onerror=alert(1)>"}
	for _, tc := range []struct {
		path      string
		showsEvil bool // the page shows a field holding evil
	}{
		{"/", false},
		{"/?q=" + url.QueryEscape(evil), false},
		{"/?fragment=1&q=" + url.QueryEscape(evil), false},
		{"/modules/example.com/app", true}, // deprecation, retraction
		{"/modules/example.com/lib", true}, // licence
		{"/modules/example.com/lib?v=v1.2.0", true},
		{"/bundles", true},          // project names
		{"/bundles/" + s.new, true}, // project names, file name
		{"/diff", false},            // modules only
		{"/stats", false},           //
		{"/login?next=" + url.QueryEscape("/"+evil), true},
		{"/modules/" + url.PathEscape(evil), true}, // the error page names the path
	} {
		resp, body := s.get(t, tc.path, nil)
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %s", tc.path, resp.Status)
		}
		for _, r := range raw {
			if strings.Contains(body, r) {
				t.Errorf("GET %s: the page holds %q unescaped", tc.path, r)
			}
		}
		if tc.showsEvil && !strings.Contains(body, "&lt;script&gt;alert(") {
			t.Errorf("GET %s: the escaped data is not on the page:\n%s", tc.path, body)
		}
		// The only script is the catalog's own.
		if got := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1); len(got) > 1 || len(got) == 1 && got[0] != `<script src="/static/catalog.js" defer>` {
			t.Errorf("GET %s: script tags %q", tc.path, got)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
}

// TestPages checks what the pages show, without JavaScript.
func TestPages(t *testing.T) {
	s := newSite(t, false, true)
	_, home := s.get(t, "/?q=LIB", nil)
	if !strings.Contains(home, `href="/modules/example.com/lib"`) || strings.Contains(home, `href="/modules/example.com/app"`) {
		t.Errorf("search for LIB:\n%s", home)
	}
	_, frag := s.get(t, "/?fragment=1&q=app", nil)
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `href="/modules/example.com/app2"`) {
		t.Errorf("results fragment:\n%s", frag)
	}

	_, app := s.get(t, "/modules/example.com/app", nil)
	for _, want := range []string{
		`value="go get example.com/app@v1.1.0"`, // v1.2.0 is retracted
		`<tr class="retracted">`,
		`retracted</span>`,
		`href="/modules/example.com/lib?v=v1.2.0"`, // requirement
		`href="/bundles/` + s.new + `"`,            // origin
		`Apache-2.0`,                               // latest's licence
		`Deprecated:`,
	} {
		if !strings.Contains(app, want) {
			t.Errorf("module page of example.com/app lacks %s", want)
		}
	}
	_, lib := s.get(t, "/modules/example.com/lib", nil)
	for _, want := range []string{`href="/modules/example.com/app"`, `>MIT<`, `href="/bundles/` + s.old + `"`} {
		if !strings.Contains(lib, want) {
			t.Errorf("module page of example.com/lib lacks %s", want)
		}
	}

	_, b := s.get(t, "/bundles/"+s.new, nil)
	for _, want := range []string{s.new, "minisign:" + signer, `/sbom.cdx.json"`, `/sbom.spdx.json"`, `/manifest.json"`, "github.com/corp/service", "/diff?a=" + s.old + "&amp;b=" + s.new} {
		if !strings.Contains(b, want) {
			t.Errorf("bundle page lacks %s", want)
		}
	}
	_, oldPage := s.get(t, "/bundles/"+s.old, nil)
	if !strings.Contains(oldPage, "carried no SBOM") || !strings.Contains(oldPage, "not recorded") {
		t.Error("the older bundle's page does not say it has no SBOM and no recorded signer")
	}
	_, list := s.get(t, "/bundles", nil)
	if strings.Count(list, `<tr class="bundle">`) != 2 || !strings.Contains(list, "minisign:"+signer) {
		t.Errorf("bundle history:\n%s", list)
	}
	resp, cdx := s.get(t, "/bundles/"+s.new+"/sbom.cdx.json", nil)
	if cdx != string(s.cdx) || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("SBOM download: %s %q\n%s", resp.Status, resp.Header.Get("Content-Disposition"), cdx)
	}
	_, man := s.get(t, "/bundles/"+s.new+"/manifest.json", nil)
	var m struct{ Modules []any }
	if err := json.Unmarshal([]byte(man), &m); err != nil || len(m.Modules) != 5 {
		t.Errorf("manifest download: %v, %d modules", err, len(m.Modules))
	}

	_, diff := s.get(t, "/diff", nil) // the two newest
	for _, want := range []string{"<strong>2</strong> added", "<strong>2</strong> changed", "<strong>0</strong> not carried"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	_, stats := s.get(t, "/stats", nil)
	if !strings.Contains(stats, `id="stat-modules">4<`) || !strings.Contains(stats, `id="stat-versions">6<`) {
		t.Errorf("stats:\n%s", stats)
	}
	resp, _ = s.get(t, "/static/catalog.css", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("static CSS: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	// The GOPROXY protocol keeps every other path.
	resp, versions := s.get(t, "/example.com/lib/@v/list", nil)
	if resp.StatusCode != 200 || versions != "v1.1.0\nv1.2.0\n" {
		t.Errorf("GOPROXY list: %s %q", resp.Status, versions)
	}
}

// TestBadInput: bad parameters are 400, unknown things 404, and query
// strings of any length or encoding never 5xx.
func TestBadInput(t *testing.T) {
	s := newSite(t, false, true)
	long := strings.Repeat("%ff%00%3Cscript%3E", 5000)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/?limit=abc", 400},
		{"/?limit=-1", 400},
		{"/?cursor=not-a-cursor", 400},
		{"/?q=" + long, 200},
		{"/?q=%zz", 200}, // a malformed escape: the query is what Go makes of it
		{"/?prefix=" + long + "&q=" + long, 200},
		{"/modules/nothing.example/x", 404},
		{"/modules/example.com/lib?v=v9.9.9", 404},
		{"/modules/example.com/lib?v=" + long, 404},
		{"/bundles/0000", 404},
		{"/bundles/" + s.new + "/secret.txt", 404},
		{"/bundles/" + s.old + "/sbom.cdx.json", 404},
		{"/diff?a=0000&b=" + s.new, 404},
		{"/diff?a=" + long, 404},
		{"/stats?" + long, 200},
	} {
		resp, body := s.get(t, tc.path, nil)
		if resp.StatusCode != tc.code {
			t.Errorf("GET %.80s: %s, want %d\n%.300s", tc.path, resp.Status, tc.code, body)
		}
	}
}

// TestLogin: with tokens, pages need one; the login form sets a cookie
// that only the pages accept; the form checks Origin and the token's
// scope; Basic works too; logout clears the cookie, and only when asked
// by a POST from the server's own page.
func TestLogin(t *testing.T) {
	s := newSite(t, true, true)
	read := s.token(t, "reader", auth.ScopeRead)
	write := s.token(t, "writer", auth.ScopeRead, auth.ScopeWrite, auth.ScopeDelete)
	admin := s.token(t, "admin", auth.ScopeAdmin)

	resp, _ := s.get(t, "/modules/example.com/lib?v=v1.2.0", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/modules/example.com/lib?v=v1.2.0") {
		t.Fatalf("page without a token: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, body := s.get(t, "/login", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) {
		t.Fatalf("login form: %s", resp.Status)
	}

	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(token, origin, next string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", s.srv.URL+"/login", strings.NewReader(url.Values{"token": {token}, "next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name, token, origin string
		code                int
	}{
		{"no Origin", read, "", 400},
		{"another site", read, "http://evil.example", 400},
		{"null Origin", read, "null", 400},
		{"wrong token", "mf_nonsense", s.srv.URL, 401},
		{"no read scope", admin, s.srv.URL, 401},
	} {
		if resp := post(tc.token, tc.origin, "/"); resp.StatusCode != tc.code || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %s with %d cookies, want %d and none", tc.name, resp.Status, len(resp.Cookies()), tc.code)
		}
	}

	resp = post(read, s.srv.URL, "//evil.example/")
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(cookies) != 1 {
		t.Fatalf("login: %s, Location %q, %d cookies", resp.Status, resp.Header.Get("Location"), len(cookies))
	}
	ck := cookies[0]
	if ck.Name != web.CookieName || ck.Value != read || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", ck)
	}
	withCookie := func(secret string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: web.CookieName, Value: secret}) }
	}
	if resp, body := s.get(t, "/modules/example.com/lib", withCookie(read)); resp.StatusCode != 200 || !strings.Contains(body, "Log out") {
		t.Errorf("page with the cookie: %s", resp.Status)
	}
	if resp, _ := s.get(t, "/stats", func(r *http.Request) { r.SetBasicAuth("", read) }); resp.StatusCode != 200 {
		t.Errorf("page with HTTP Basic: %s", resp.Status)
	}
	// The cookie is the web catalog's only: the GOPROXY protocol and the
	// API (its writes above all) do not take it.
	if resp, _ := s.get(t, "/example.com/lib/@v/list", withCookie(read)); resp.StatusCode != 401 {
		t.Errorf("GOPROXY with only the cookie: %s, want 401", resp.Status)
	}
	req, _ := http.NewRequest("DELETE", s.srv.URL+"/api/v1/modules/example.com/lib/@v/v1.1.0", nil)
	req.AddCookie(&http.Cookie{Name: web.CookieName, Value: write})
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("API delete with only the cookie: %v %v, want 401", resp.Status, err)
	}
	// A cookie whose token is gone leads back to the login form.
	if err := s.tokens.Revoke("reader"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := s.get(t, "/stats", withCookie(read)); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("page with a revoked token's cookie: %s", resp.Status)
	}
	// Logout: GET only shows the button; the POST must come from this
	// server's page, like the login's.
	resp, body = s.get(t, "/logout", withCookie(read))
	if resp.StatusCode != 200 || len(resp.Cookies()) != 0 || !strings.Contains(body, `<form class="logout-page" action="/logout" method="post">`) {
		t.Errorf("GET /logout: %s, cookies %v", resp.Status, resp.Cookies())
	}
	logout := func(origin, fetchSite string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", s.srv.URL+"/logout", nil)
		req.AddCookie(&http.Cookie{Name: web.CookieName, Value: read})
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if fetchSite != "" {
			req.Header.Set("Sec-Fetch-Site", fetchSite)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct{ name, origin, fetchSite string }{
		{"no Origin", "", ""},
		{"another site", "http://evil.example", ""},
		{"another site's fetch", "", "cross-site"},
		{"null Origin", "null", "same-origin"},
	} {
		if resp := logout(tc.origin, tc.fetchSite); resp.StatusCode != 400 || len(resp.Cookies()) != 0 {
			t.Errorf("logout from %s: %s with cookies %v, want 400 and none", tc.name, resp.Status, resp.Cookies())
		}
	}
	for _, h := range [][2]string{{s.srv.URL, ""}, {"", "same-origin"}} {
		resp = logout(h[0], h[1])
		if cs := resp.Cookies(); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" || len(cs) != 1 || cs[0].Name != web.CookieName || cs[0].MaxAge >= 0 {
			t.Errorf("logout (Origin %q, Sec-Fetch-Site %q): %s, cookies %v", h[0], h[1], resp.Status, cs)
		}
	}
}

// TestRoutesAreNoModulePaths: the first element of every page path is
// no module path's first element (those have a dot), so the pages take
// nothing from the GOPROXY protocol.
func TestRoutesAreNoModulePaths(t *testing.T) {
	h := web.New(web.Options{})
	for _, r := range h.Routes() {
		_, p, _ := strings.Cut(r.Pattern, " ")
		first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if p == "/{$}" {
			continue // "/" itself: no GOPROXY path is empty
		}
		if first == "" || strings.Contains(first, ".") {
			t.Errorf("%s: first element %q could begin a module path", r.Pattern, first)
		}
		if err := module.CheckPath(first + "/x"); err == nil {
			t.Errorf("%s: %s/x is a valid module path", r.Pattern, first)
		}
	}
}
