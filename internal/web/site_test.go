package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/server"
	"github.com/modferry/modferry/internal/store"
)

// evil is text full of HTML and script characters, put into every field
// of the store that a page shows and that may hold it: project names,
// licence names, bundle file names, deprecation and retraction messages.
// signer is the key ID the audit log records for the newer bundle.
const signer = "E5A1C0FFEE123456"

const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>&"'`

// site is a served store holding two imported bundles.
type site struct {
	srv      *httptest.Server
	st       *store.Disk
	tokens   *auth.Tokens
	old, new string // the bundles' digests, older first
	cdx      []byte // the CycloneDX SBOM kept for new
}

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func h1(s string) string {
	h := sha256.Sum256([]byte(s))
	return "h1:" + base64.StdEncoding.EncodeToString(h[:])
}

// newSite builds the store and serves it; with auth, a token exists, so
// reading needs one.
//
// With evil, the project names, licence names, file names and messages
// hold evil; without, plain text (the browser test's screenshots).
func newSite(t testing.TB, withAuth, withEvil bool) *site {
	t.Helper()
	bad := "portal"
	licence := "BSD-3-Clause"
	if withEvil {
		bad, licence = evil, evil
	}
	root := t.TempDir()
	st, err := store.NewDisk(root)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := auth.Open(filepath.Join(root, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tk.Close() })
	s := &site{st: st, tokens: tk, old: digestOf("old bundle"), new: digestOf("new bundle")}
	t0 := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

	add := func(mv, gomod string, zip bool, tm time.Time) {
		path, version, _ := strings.Cut(mv, "@")
		v := module.Version{Path: path, Version: version}
		if gomod == "" {
			gomod = "module " + path + "\n\ngo 1.22\n"
		}
		f := modules.Files{Mod: strings.NewReader(gomod)}
		if zip {
			body := "zip of " + mv + strings.Repeat(".", 2000)
			f.Zip, f.ZipHash = strings.NewReader(body), h1(body)
			info, _ := json.Marshal(modules.InfoJSON{Version: version, Time: tm})
			f.Info = strings.NewReader(string(info))
		}
		if err := (&modules.Repo{Store: st}).Add(context.Background(), v, f); err != nil {
			t.Fatal(err)
		}
	}
	add("example.com/lib@v1.1.0", "", true, t0)
	add("example.com/lib@v1.2.0", "module example.com/lib\n\ngo 1.23\n\nrequire golang.org/x/text v0.14.0\n", true, t0.Add(24*time.Hour))
	add("golang.org/x/text@v0.14.0", "", false, time.Time{})
	add("example.com/app@v1.0.0", "module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v1.1.0\n", true, t0)
	add("example.com/app@v1.1.0", "module example.com/app\n\ngo 1.23\n\nrequire example.com/lib v1.2.0\n", true, t0.Add(48*time.Hour))
	add("example.com/app@v1.2.0", "// Deprecated: use example.com/app2 "+bad+"\nmodule example.com/app\n\ngo 1.23\n\nrequire example.com/lib v1.2.0\n\nretract v1.2.0 // broken "+bad+"\n", true, t0.Add(72*time.Hour))
	add("example.com/app2@v0.1.0", "", true, t0.Add(72*time.Hour))

	record := func(digest string, imported time.Time, projects []string, mvs ...string) {
		m := bundle.Manifest{FormatVersion: 1, Created: imported.Add(-time.Hour), ToolVersion: "v0.9.0"}
		for _, p := range projects {
			m.Projects = append(m.Projects, bundle.Project{Path: p, VCSRevision: "0123456789abcdef"})
		}
		for _, mv := range mvs {
			p, v, _ := strings.Cut(mv, "@")
			zh := ""
			if !strings.HasPrefix(p, "golang.org/x/text") {
				zh = h1("zip of " + mv)
			}
			m.Modules = append(m.Modules, bundle.Module{Path: p, Version: v, ZipHash: zh, ModHash: h1(mv)})
			m.Files = append(m.Files, bundle.File{Path: "download/" + p + "/@v/" + v + ".zip", Size: 2048})
		}
		man, _ := json.Marshal(m)
		rec, _ := json.Marshal(importer.Record{Digest: digest, Imported: imported, Actor: "local:ops", File: "bundle-" + bad + ".tar.zst", Manifest: man})
		if err := st.Put(context.Background(), "bundles/"+digest+".json", strings.NewReader(string(rec))); err != nil {
			t.Fatal(err)
		}
	}
	s.cdx = []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[` +
		`{"name":"example.com/lib","version":"v1.2.0","licenses":[{"license":{"id":"MIT"}},{"license":{"name":` + jsonString(licence) + `}}]},` +
		`{"name":"example.com/app","version":"v1.1.0","licenses":[{"license":{"id":"Apache-2.0"}}]}]}` + "\n")
	for name, data := range map[string][]byte{
		importer.SBOMName(s.new, bundle.SBOMCycloneDX): s.cdx,
		importer.SBOMName(s.new, bundle.SBOMSPDX):      []byte(`{"spdxVersion":"SPDX-2.3"}` + "\n"),
	} {
		if err := st.Put(context.Background(), name, strings.NewReader(string(data))); err != nil {
			t.Fatal(err)
		}
	}
	record(s.old, t0.Add(time.Hour), []string{"github.com/corp/service"}, "example.com/lib@v1.1.0", "example.com/app@v1.0.0")
	record(s.new, t0.Add(96*time.Hour), []string{"github.com/corp/" + bad, "github.com/corp/service"},
		"example.com/lib@v1.2.0", "example.com/app@v1.1.0", "example.com/app@v1.2.0", "golang.org/x/text@v0.14.0", "example.com/app2@v0.1.0")

	// The audit log records who signed the newer bundle, as import does.
	al, err := audit.Open(filepath.Join(root, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	imp := audit.Entry{Actor: "local:ops", Action: audit.ActionImport, Result: audit.ResultOK,
		Detail: map[string]string{"digest": s.new, "key": "minisign:" + signer}}
	if _, err := al.Append(context.Background(), imp); err != nil {
		t.Fatal(err)
	}

	if withAuth {
		if _, err := tk.Add("admin-only", []auth.Scope{auth.ScopeAdmin}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	srv := server.New(server.Config{Store: st, Tokens: tk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.Catalog().Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(srv)
	t.Cleanup(s.srv.Close)
	return s
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// token adds a token with the given scopes and returns its secret.
func (s *site) token(t testing.TB, name string, scopes ...auth.Scope) string {
	t.Helper()
	secret, err := s.tokens.Add(name, scopes, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// get fetches path with the request changed by edit (may be nil), without
// following redirects.
func (s *site) get(t testing.TB, path string, edit func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}
