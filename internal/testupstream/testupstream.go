// Package testupstream is a hermetic module upstream for tests: a GOPROXY
// built from txtar fixtures, served by httptest, plus helpers that run the
// real go command against it (see gocmd.go).
//
// # Fixtures
//
// testdata/mod holds one txtar archive per module version, in the manner of
// cmd/go/testdata/mod. The archive comment names the version:
//
//	# free text
//	module modferry.test/lib
//	version v1.2.0
//	time 2024-03-15T00:00:00Z   (optional)
//
// The file ".mod" is the go.mod the proxy serves (default: the module's
// go.mod, or a synthesized "module PATH" when it has none, as for
// +incompatible versions); ".info" is the .info served (default:
// {"Version","Time"}, the time of a pseudo-version being its own). All
// other files form the module zip, made with golang.org/x/mod/zip, which
// leaves out nested modules and vendor directories as the go command does.
// Every module path is under modferry.test, a reserved name that no network
// resolves.
//
// testdata/projects holds main modules and workspaces, one txtar each,
// written out by [WriteProject]. Their go.sum files are left out: with
// GOFLAGS=-mod=mod the go command writes them.
//
// # Layout
//
// [WriteDir] and [New] lay the fixtures out as a GOPROXY directory, the
// same layout as GOMODCACHE/cache/download:
//
//	DIR/<escaped module path>/@v/list
//	DIR/<escaped module path>/@v/<escaped version>.info|.mod|.zip
//
// The list names every version held, pseudo-versions included, in semver
// order.
package testupstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/modfiles"
)

// An Upstream is a module proxy serving every fixture over HTTP.
type Upstream struct {
	// URL is the proxy's base URL, for GOPROXY.
	URL string
	// Dir holds the download layout; GOPROXY=file://Dir works too.
	Dir string

	versions []module.Version
	latest   map[string]string // module path -> version @latest answers

	mu       sync.Mutex
	requests []string
	refused  map[string]bool // request paths answered 403 Forbidden
}

// New lays out every fixture in a temporary directory and serves it with
// httptest until the test ends.
func New(t testing.TB) *Upstream {
	t.Helper()
	u := &Upstream{Dir: t.TempDir()}
	vs, err := WriteDir(u.Dir)
	if err != nil {
		t.Fatalf("testupstream: %v", err)
	}
	u.versions = vs
	u.latest = latestVersions(vs)
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// WriteDir writes the download layout of every fixture into dir and
// reports the versions written, sorted by path and then semver.
func WriteDir(dir string) ([]module.Version, error) {
	all, err := fixtures()
	if err != nil {
		return nil, err
	}
	lists := make(map[string][]string) // escaped path -> versions
	var vs []module.Version
	for _, b := range all {
		escPath, err := module.EscapePath(b.mod.Path)
		if err != nil {
			return nil, err
		}
		vdir := filepath.Join(dir, filepath.FromSlash(escPath), "@v")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return nil, err
		}
		for k, data := range map[modfiles.Kind][]byte{modfiles.Info: b.info, modfiles.Mod: b.gomod, modfiles.Zip: b.zip} {
			name, err := modfiles.ProxyPath(b.mod, k)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), data, 0o644); err != nil {
				return nil, err
			}
		}
		lists[escPath] = append(lists[escPath], b.mod.Version)
		vs = append(vs, b.mod)
	}
	for escPath, list := range lists { // fixtures() sorted each list already
		file := filepath.Join(dir, filepath.FromSlash(escPath), "@v", "list")
		if err := os.WriteFile(file, modfiles.ListFile(list), 0o644); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// latestVersions picks for each module what a proxy's @latest answers:
// the highest release, else the highest pre-release, else the highest
// pseudo-version.
func latestVersions(vs []module.Version) map[string]string {
	rank := func(v string) int {
		switch {
		case module.IsPseudoVersion(v):
			return 0
		case semver.Prerelease(v) != "":
			return 1
		}
		return 2
	}
	latest := make(map[string]string)
	for _, m := range vs {
		cur, ok := latest[m.Path]
		if !ok || rank(m.Version) > rank(cur) ||
			rank(m.Version) == rank(cur) && semver.Compare(m.Version, cur) > 0 {
			latest[m.Path] = m.Version
		}
	}
	return latest
}

// Versions reports every module version the upstream holds, sorted by path
// and then semver.
func (u *Upstream) Versions() []module.Version {
	return append([]module.Version(nil), u.versions...)
}

// Requests reports the URL paths requested so far, in order, decoded (so an
// upper-case letter appears as "!x" whether or not the client escaped "!").
func (u *Upstream) Requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.requests...)
}

// Refuse makes the upstream answer 403 Forbidden to the request paths
// given (such as "modferry.test/unneeded/@v/v1.0.0.zip"), as a proxy
// does for a file it will not serve; the go command then fails.
func (u *Upstream) Refuse(paths ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.refused == nil {
		u.refused = make(map[string]bool)
	}
	for _, p := range paths {
		u.refused[strings.TrimPrefix(p, "/")] = true
	}
}

// ServeHTTP answers the GOPROXY protocol: $module/@v/list, .info, .mod,
// .zip and $module/@latest; everything else is 404 Not Found.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requests = append(u.requests, r.URL.Path)
	refused := u.refused[strings.TrimPrefix(r.URL.Path, "/")]
	u.mu.Unlock()

	if refused {
		http.Error(w, "forbidden by the test upstream", http.StatusForbidden)
		return
	}

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	file, ctype, err := u.resolve(r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// resolve maps a decoded request path to a file under u.Dir and its content
// type. modfiles.ParseUpstreamRequest validates the path and version, and
// the file is named by escaping them again, so that no request can leave
// u.Dir.
func (u *Upstream) resolve(urlPath string) (file, ctype string, err error) {
	req, err := modfiles.ParseUpstreamRequest(strings.TrimPrefix(urlPath, "/"))
	if err != nil {
		return "", "", err
	}
	k := req.Op.Kind()
	switch req.Op {
	case modfiles.OpLatest:
		v, ok := u.latest[req.Path]
		if !ok {
			return "", "", fmt.Errorf("unknown module %s", req.Path)
		}
		req.Version.Version, k = v, modfiles.Info
	case modfiles.OpList:
		escPath, err := module.EscapePath(req.Path)
		if err != nil {
			return "", "", err
		}
		return filepath.Join(u.Dir, filepath.FromSlash(escPath), "@v", "list"), "text/plain; charset=utf-8", nil
	}
	name, err := modfiles.ProxyPath(req.Version, k)
	if err != nil {
		return "", "", err
	}
	ctype = map[modfiles.Kind]string{
		modfiles.Info: "application/json",
		modfiles.Mod:  "text/plain; charset=utf-8",
		modfiles.Zip:  "application/zip",
	}[k]
	return filepath.Join(u.Dir, filepath.FromSlash(name)), ctype, nil
}
