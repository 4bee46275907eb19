// Package web is the web catalog a modferry server shows at "/": search
// (with results as you type), module pages, the bundle import history with
// manifest and SBOM downloads, a "what changed" view between two bundles,
// store statistics, and a login form.
//
// Pages are html/template over embedded templates and static files: no
// CDN, and every page works without JavaScript (static/catalog.js only
// updates search results as you type and adds copy buttons). Everything a
// page shows from the store (module paths, versions, licence names,
// project names, file names) goes through html/template's contextual
// escaping, and every response carries a Content-Security-Policy that
// allows scripts and styles from the server only.
//
// # Paths
//
// The pages live beside the GOPROXY protocol, whose paths begin with a
// module path: "/" itself, "/modules/...", "/bundles/...", "/diff",
// "/stats", "/static/...", "/login" and "/logout". None of them can begin
// a GOPROXY path, because the first element of a module path has a dot.
//
// # Tokens
//
// Reading the catalog needs the read scope, like the GOPROXY protocol:
// the server checks it (see Routes). A browser presents a token either
// through HTTP Basic (the token as the password, as the go command does)
// or through the login form, which keeps the token in a cookie: HttpOnly,
// SameSite=Strict, Path=/, and Secure when the browser reached the server
// over TLS (the request is TLS, or the form's Origin is https). Over plain
// HTTP — sensible only on a loopback address — the cookie cannot be
// Secure, because a browser would then never send it back. The login POST
// and the logout POST are the only state-changing requests; beside
// SameSite, each must carry an Origin (or Sec-Fetch-Site: same-origin)
// naming this server's host, so a form on another site can neither log a
// browser in with the attacker's token nor log it out. GET /logout only
// shows the logout button (a link or a prefetch changes nothing).
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/catalog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CookieName is the cookie the login form sets; it holds the token.
const CookieName = "modferry_token"

// Options configure a Handler.
type Options struct {
	Catalog *catalog.Catalog // required
	// CheckLogin checks a token given to the login form: nil if it may
	// read. r is the login request (for rate limiting by client).
	CheckLogin func(r *http.Request, token string) error
	// Open reports whether reading needs no token now: the pages then
	// offer no login.
	Open func() bool
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the catalog's pages.
type Handler struct {
	opts   Options
	log    *slog.Logger
	pages  map[string]*template.Template
	static http.Handler
}

// A Route is one page pattern (ServeMux syntax, with method) and whether
// it needs the read scope (login, logout and static files do not).
type Route struct {
	Pattern string
	Read    bool
	Handler http.HandlerFunc
}

// New returns a Handler.
func New(opts Options) *Handler {
	h := &Handler{opts: opts, log: opts.Logger, pages: map[string]*template.Template{}}
	if h.log == nil {
		h.log = slog.Default()
	}
	funcs := template.FuncMap{
		"bytes":     formatBytes,
		"time":      formatTime,
		"modURL":    modURL,
		"bundleURL": bundleURL,
		"short":     func(d string) string { return d[:min(12, len(d))] },
		"join":      strings.Join,
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		h.pages[strings.TrimSuffix(base, ".html")] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	h.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	return h
}

// Routes returns the catalog's routes, for the server's route table.
func (h *Handler) Routes() []Route {
	return []Route{
		{"GET /{$}", true, h.home},
		{"GET /modules/{path...}", true, h.module},
		{"GET /bundles", true, h.bundleList},
		{"GET /bundles/{digest}", true, h.bundlePage},
		{"GET /bundles/{digest}/{file}", true, h.bundleFile},
		{"GET /diff", true, h.diff},
		{"GET /stats", true, h.stats},
		{"GET /static/", false, h.serveStatic},
		{"GET /login", false, h.loginForm},
		{"POST /login", false, h.login},
		{"GET /logout", false, h.logoutForm},
		{"POST /logout", false, h.logout},
	}
}

// CookieToken returns r with the login cookie's token as its
// Authorization, if r has the cookie and no Authorization of its own.
func CookieToken(r *http.Request) *http.Request {
	if r.Header.Get("Authorization") != "" {
		return r
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+c.Value)
	return r
}

// LoginRedirect answers a page request that has no token with a redirect
// to the login form, which comes back to the page.
func LoginRedirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// security sets the headers every response carries.
func security(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string // the active navigation item
	LoggedIn bool   // the login cookie is set
	Open     bool   // reading needs no token
	Data     any
}

// render executes the page template name with data; status 0 means 200.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t := h.pages[name]
	_, err := r.Cookie(CookieName)
	p := page{Title: title, Nav: name, LoggedIn: err == nil, Open: h.opts.Open == nil || h.opts.Open(), Data: data}
	buf := pageBufs.Get().(*bytes.Buffer)
	defer putPageBuf(buf)
	entry := "layout.html"
	if name == "results" { // the results part of the search page
		t, entry = h.pages["home"], "results"
	}
	if err := t.ExecuteTemplate(buf, entry, p); err != nil {
		h.log.Error("rendering a catalog page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page: see the server log", http.StatusInternalServerError)
		return
	}
	security(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status != 0 {
		w.WriteHeader(status)
	}
	w.Write(buf.Bytes())
}

// pageBufs hold the buffers pages are rendered into: a module page is
// 10-40 KB, and a buffer grown afresh for each one was most of the
// garbage a page made (the collector's cycles, and the requests that wait
// on them, come with the garbage).
var pageBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putPageBuf returns buf to pageBufs, unless a rare page made it large.
func putPageBuf(buf *bytes.Buffer) {
	if buf.Cap() > 1<<20 {
		return
	}
	buf.Reset()
	pageBufs.Put(buf)
}

// fail shows an error page: 404 for what does not exist, 400 for a bad
// request, else 500 (logged).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "internal error: see the server log"
	var nf *catalog.NotFoundError
	switch {
	case errors.As(err, &nf), errors.Is(err, fs.ErrNotExist):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, catalog.ErrBadRequest), errors.Is(err, errBadRequest):
		status, msg = http.StatusBadRequest, err.Error()
	default:
		h.log.Error("serving a catalog page", "path", r.URL.Path, "err", err)
	}
	h.render(w, r, status, "error", http.StatusText(status), msg)
}

var errBadRequest = errors.New("bad request")

type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == fs.ErrNotExist }

// home is the search page; with fragment=1 it answers only the results
// (for catalog.js).
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := catalog.ParseQuery(v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.opts.Catalog.Search(r.Context(), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := struct {
		Q, Prefix string
		Result    *catalog.SearchResult
		Rows      template.HTML
		NextURL   string
	}{Q: q.Q, Prefix: q.Prefix, Result: res, Rows: resultRows(res)}
	if res.Next != "" {
		nv := url.Values{}
		for _, k := range []string{"q", "prefix", "limit"} {
			if s := v.Get(k); s != "" {
				nv.Set(k, s)
			}
		}
		nv.Set("cursor", res.Next)
		data.NextURL = "/?" + nv.Encode()
	}
	if v.Get("fragment") == "1" {
		h.render(w, r, 0, "results", "", data)
		return
	}
	h.render(w, r, 0, "home", "Modules", data)
}

// module is a module page.
func (h *Handler) module(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	version := r.URL.Query().Get("v")
	m, err := h.opts.Catalog.Module(r.Context(), path, catalog.ModuleOptions{Version: version})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var licences []string
	for _, ver := range m.Versions {
		if ver.Version == m.Latest {
			licences = ver.Licenses
		}
	}
	get := m.Path
	if m.Latest != "" {
		get += "@" + m.Latest
	}
	var retracted []catalog.Version
	for _, v := range m.Versions {
		if v.Retracted && v.RetractRationale != "" {
			retracted = append(retracted, v)
		}
	}
	h.render(w, r, 0, "module", m.Path, struct {
		M          *catalog.Module
		Licences   []string
		GoGet      string
		Rows       template.HTML
		Retracted  []catalog.Version
		Dependents template.HTML
		Requires   template.HTML
	}{m, licences, "go get " + get, versionRows(m), retracted, dependentItems(m), requireItems(m)})
}

// history is the import history, newest first.
func (h *Handler) history(ctx context.Context) ([]*bundleRec, error) {
	all, err := h.opts.Catalog.Bundles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*bundleRec, 0, len(all))
	for i := range all {
		rec, err := recordOf(&all[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// find returns one bundle with its whole manifest; a digest the history
// does not hold is an error matching fs.ErrNotExist.
func (h *Handler) find(ctx context.Context, digest string) (*bundleRec, error) {
	b, err := h.opts.Catalog.Bundle(ctx, digest)
	if err != nil {
		return nil, err
	}
	return recordOf(b)
}

// bundleList is the import history.
func (h *Handler) bundleList(w http.ResponseWriter, r *http.Request) {
	all, err := h.history(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, 0, "bundles", "Bundles", all)
}

// bundlePage is one bundle: projects, signer, downloads, modules.
func (h *Handler) bundlePage(w http.ResponseWriter, r *http.Request) {
	b, err := h.find(r.Context(), r.PathValue("digest"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	all, err := h.history(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var prev *bundleRec // the import before this one, to compare with
	for i, o := range all {
		if o.Digest == b.Digest && i+1 < len(all) {
			prev = all[i+1]
		}
	}
	h.render(w, r, 0, "bundle", "Bundle "+b.Short(), struct {
		B    *bundleRec
		Prev *bundleRec
	}{b, prev})
}

// bundleFile downloads a bundle's manifest or one of its SBOMs.
func (h *Handler) bundleFile(w http.ResponseWriter, r *http.Request) {
	digest, file := r.PathValue("digest"), r.PathValue("file")
	switch file {
	case api.DownloadManifest, api.DownloadCycloneDX, api.DownloadSPDX:
	default:
		h.fail(w, r, notFound("a bundle's downloads are "+api.DownloadManifest+", "+api.DownloadCycloneDX+" and "+api.DownloadSPDX))
		return
	}
	data, err := h.opts.Catalog.BundleFile(r.Context(), digest, file)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	short := digest[:min(12, len(digest))]
	security(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", short+"-"+file))
	w.Write(data)
}

// diff shows what changed between two bundles (a=older, b=newer).
func (h *Handler) diff(w http.ResponseWriter, r *http.Request) {
	all, err := h.history(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := r.URL.Query()
	data := struct {
		All                     []*bundleRec
		A, B                    *bundleRec
		Added, Removed, Changed []change
		Same                    int
	}{All: all}
	da, db := v.Get("a"), v.Get("b")
	if da == "" && db == "" && len(all) >= 2 {
		da, db = all[1].Digest, all[0].Digest
	}
	for _, b := range all {
		if b.Digest == da {
			data.A = b
		}
		if b.Digest == db {
			data.B = b
		}
	}
	if (da != "" && data.A == nil) || (db != "" && data.B == nil) {
		h.fail(w, r, notFound("no imported bundle has this digest"))
		return
	}
	if data.A != nil && data.B != nil {
		if data.A, err = h.find(r.Context(), data.A.Digest); err == nil {
			data.B, err = h.find(r.Context(), data.B.Digest)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data.Added, data.Removed, data.Changed, data.Same = diffBundles(data.A.Manifest, data.B.Manifest)
	}
	h.render(w, r, 0, "diff", "What changed", data)
}

// stats shows the store statistics.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	st, err := h.opts.Catalog.Stats(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, 0, "stats", "Statistics", st)
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	security(w)
	// A name the embedded files cannot hold (not valid UTF-8, say) is
	// not found: http.FileServer would answer the fs.ErrInvalid of
	// opening it with a 500.
	if name := strings.TrimPrefix(r.URL.Path, "/static/"); !utf8.ValidString(name) || name != "" && !fs.ValidPath(strings.TrimSuffix(name, "/")) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	h.static.ServeHTTP(w, r)
}

// loginData is what the login form shows.
type loginData struct {
	Next  string
	Error string
}

// safeNext returns next if it is a path on this server, else "/". It
// judges what the browser will be sent: http.Redirect cleans the path
// (so "/./\\host" becomes "/\\host"), and browsers read a backslash as a
// slash and drop tabs and newlines, so any of those, any control
// character, and anything with a scheme or host is refused.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.ContainsAny(next, "\\") {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	clean := path.Clean(u.Path)
	if strings.HasPrefix(clean, "//") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if r.URL.Query().Get("basic") == "1" {
		// The browser's own dialog: HTTP Basic with the token as the
		// password. The server checks it on the page it goes to.
		if _, _, ok := r.BasicAuth(); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="modferry", charset="UTF-8"`)
			h.render(w, r, http.StatusUnauthorized, "login", "Log in", loginData{Next: next, Error: "HTTP Basic: give the token as the password."})
			return
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, 0, "login", "Log in", loginData{Next: next})
}

// sameOrigin reports whether a form POST comes from a page of this server.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return origin == "" && r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		security(w)
		// 400, not 403: the request is malformed for this route (no token
		// was even looked at).
		http.Error(w, "bad request: the login form must be sent from this server's own page (its Origin must name this server)", http.StatusBadRequest)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, "login", "Log in", loginData{Next: "/", Error: "bad form: " + err.Error()})
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" || h.opts.CheckLogin == nil {
		h.render(w, r, http.StatusBadRequest, "login", "Log in", loginData{Next: next, Error: "Give a token with the read scope."})
		return
	}
	if err := h.opts.CheckLogin(r, token); err != nil {
		h.render(w, r, http.StatusUnauthorized, "login", "Log in", loginData{Next: next, Error: err.Error()})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.HasPrefix(r.Header.Get("Origin"), "https://"),
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logoutForm shows the logout button; only its POST logs out.
func (h *Handler) logoutForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, 0, "logout", "Log out", nil)
}

// logout clears the login cookie. Like the login, it must come from this
// server's own page.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	security(w)
	if !sameOrigin(r) {
		http.Error(w, "bad request: log out with the button of this server's own page (its Origin must name this server)", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func modURL(path string, version ...string) string {
	u := "/modules/" + (&url.URL{Path: path}).EscapedPath()
	if len(version) > 0 && version[0] != "" {
		u += "?v=" + url.QueryEscape(version[0])
	}
	return u
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
