package testupstream

import (
	"archive/zip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// layoutFile is the path of a module version's file in a download layout.
func layoutFile(t *testing.T, dir string, m module.Version, ext string) string {
	t.Helper()
	escPath, err := module.EscapePath(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	escVer, err := module.EscapeVersion(m.Version)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, filepath.FromSlash(escPath), "@v", escVer+ext)
}

func TestFixturesBuild(t *testing.T) {
	dir := t.TempDir()
	vs, err := WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []module.Version{
		{Path: "modferry.test/Upper/Case", Version: "v1.0.0"},
		{Path: "modferry.test/dep", Version: "v1.0.0"},
		{Path: "modferry.test/dep", Version: "v1.1.0"},
		{Path: "modferry.test/incompat", Version: "v3.0.0+incompatible"},
		{Path: "modferry.test/lib", Version: "v1.3.0-rc.1"},
		{Path: "modferry.test/major/v2", Version: "v2.0.0"},
		{Path: "modferry.test/major/v2", Version: "v2.1.0"},
		{Path: "modferry.test/nest", Version: "v1.0.0"},
		{Path: "modferry.test/nest/inner", Version: "v1.0.0"},
		{Path: "modferry.test/pseudo", Version: "v0.0.0-20240101000000-abcdefabcdef"},
		{Path: "modferry.test/retract", Version: "v1.1.0"},
	} {
		if !slices.Contains(vs, want) {
			t.Errorf("WriteDir did not write %v", want)
		}
	}

	for _, m := range vs {
		if !strings.HasPrefix(m.Path, "modferry.test/") {
			t.Errorf("%v: module path outside modferry.test", m)
		}
		cf, err := modzip.CheckZip(m, layoutFile(t, dir, m, ".zip"))
		if err == nil {
			err = cf.Err()
		}
		if err != nil {
			t.Errorf("%v: CheckZip: %v", m, err)
		}

		data, err := os.ReadFile(layoutFile(t, dir, m, ".mod"))
		if err != nil {
			t.Fatal(err)
		}
		mf, err := modfile.Parse("go.mod", data, nil)
		if err != nil {
			t.Errorf("%v: .mod: %v", m, err)
		} else if mf.Module.Mod.Path != m.Path {
			t.Errorf("%v: .mod declares module %s", m, mf.Module.Mod.Path)
		}

		data, err = os.ReadFile(layoutFile(t, dir, m, ".info"))
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Version string
			Time    time.Time
		}
		if err := json.Unmarshal(data, &info); err != nil || info.Version != m.Version || info.Time.IsZero() {
			t.Errorf("%v: .info = %s (%v)", m, data, err)
		}
		if module.IsPseudoVersion(m.Version) {
			if pt, _ := module.PseudoVersionTime(m.Version); !pt.Equal(info.Time) {
				t.Errorf("%v: .info time %v, want the pseudo-version's %v", m, info.Time, pt)
			}
		}
	}

	// Upper case is escaped in the layout.
	if _, err := os.Stat(filepath.Join(dir, "modferry.test", "!upper", "!case", "@v", "v1.0.0.zip")); err != nil {
		t.Error(err)
	}
	// The list holds every version in semver order.
	list, err := os.ReadFile(filepath.Join(dir, "modferry.test", "lib", "@v", "list"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(list), "v1.0.0\nv1.1.0\nv1.2.0\nv1.3.0-rc.1\n"; got != want {
		t.Errorf("lib list = %q, want %q", got, want)
	}
	// The +incompatible .mod is synthesized and its zip has no go.mod.
	incompat := module.Version{Path: "modferry.test/incompat", Version: "v3.0.0+incompatible"}
	if data, _ := os.ReadFile(layoutFile(t, dir, incompat, ".mod")); string(data) != "module modferry.test/incompat\n" {
		t.Errorf("incompat .mod = %q", data)
	}
	if names := zipNames(t, layoutFile(t, dir, incompat, ".zip")); slices.Contains(names, incompat.String()+"/go.mod") {
		t.Errorf("incompat zip has a go.mod: %q", names)
	}
	// The outer nest zip leaves out the nested module.
	nest := module.Version{Path: "modferry.test/nest", Version: "v1.0.0"}
	names := zipNames(t, layoutFile(t, dir, nest, ".zip"))
	if !slices.Contains(names, nest.String()+"/nest.go") {
		t.Errorf("nest zip lacks nest.go: %q", names)
	}
	for _, name := range names {
		if strings.Contains(name, "/inner/") {
			t.Errorf("nest zip holds %s of the nested module", name)
		}
	}
}

func zipNames(t *testing.T, file string) []string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

func TestBuildFixtureErrors(t *testing.T) {
	for name, data := range map[string]string{
		"no module":       "version v1.0.0\n-- a.go --\npackage a\n",
		"bad version":     "module modferry.test/a\nversion 1.0\n",
		"major mismatch":  "module modferry.test/a\nversion v2.0.0\n-- go.mod --\nmodule modferry.test/a\n",
		"unknown key":     "module modferry.test/a\nversion v1.0.0\nauthor me\n",
		"bad time":        "module modferry.test/a\nversion v1.0.0\ntime yesterday\n",
		"wrong module":    "module modferry.test/a\nversion v1.0.0\n-- go.mod --\nmodule modferry.test/b\n",
		".mod mismatch":   "module modferry.test/a\nversion v1.0.0\n-- .mod --\nmodule modferry.test/a\n-- go.mod --\nmodule modferry.test/a\n\ngo 1.21\n",
		".info version":   "module modferry.test/a\nversion v1.0.0\n-- .info --\n{\"Version\":\"v1.0.1\"}\n",
		"bad file in zip": "module modferry.test/a\nversion v1.0.0\n-- ../a.go --\npackage a\n",
	} {
		if _, err := buildFixture([]byte(data)); err == nil {
			t.Errorf("%s: buildFixture succeeded, want an error", name)
		}
	}
}

func TestServer(t *testing.T) {
	u := New(t)
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Get(u.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}

	for _, tc := range []struct {
		path, want string
	}{
		{"/modferry.test/lib/@v/list", "v1.0.0\nv1.1.0\nv1.2.0\nv1.3.0-rc.1\n"},
		{"/modferry.test/lib/@latest", `"Version":"v1.2.0"`},
		{"/modferry.test/major/v2/@latest", `"Version":"v2.1.0"`},
		{"/modferry.test/pseudo/@latest", `"Version":"v0.0.0-20240101000000-abcdefabcdef"`},
		{"/modferry.test/lib/@v/v1.3.0-rc.1.info", `"Version":"v1.3.0-rc.1"`},
		{"/modferry.test/%21upper/%21case/@v/v1.0.0.mod", "module modferry.test/Upper/Case\n"},
		{"/modferry.test/!upper/!case/@v/list", "v1.0.0\n"},
		{"/modferry.test/incompat/@v/v3.0.0+incompatible.mod", "module modferry.test/incompat\n"},
		{"/modferry.test/dep/@v/v1.0.0.zip", "PK"},
		// A pseudo-version newer than the latest release is listed.
		{"/modferry.test/shared/@v/list", "v1.0.0\nv1.1.0\nv1.1.1-0.20250301000000-aaaaaaaaaaaa\n"},
		{"/modferry.test/shared/@latest", `"Version":"v1.1.0"`},
	} {
		code, body := get(tc.path)
		if code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %q, want 200 and %q", tc.path, code, body, tc.want)
		}
	}
	for _, p := range []string{
		"/",
		"/modferry.test/lib",
		"/modferry.test/lib/@v/",
		"/modferry.test/lib/@v/v9.9.9.info",
		"/modferry.test/lib/@v/v1.0.0.tar",
		"/modferry.test/lib/@v/v2.0.0.mod",  // wrong major version for the path
		"/modferry.test/Upper/Case/@v/list", // unescaped upper case
		"/modferry.test/unknown/@v/list",
		"/modferry.test/unknown/@latest",
		"/modferry.test/../../etc/@v/list",
		"/sumdb/sum.golang.org/supported",
	} {
		if code, body := get(p); code != http.StatusNotFound {
			t.Errorf("GET %s = %d %q, want 404", p, code, body)
		}
	}

	u.Refuse("modferry.test/dep/@v/v1.0.0.zip")
	if code, _ := get("/modferry.test/dep/@v/v1.0.0.zip"); code != http.StatusForbidden {
		t.Errorf("GET of a refused zip = %d, want 403", code)
	}
	if code, _ := get("/modferry.test/dep/@v/v1.0.0.mod"); code != http.StatusOK {
		t.Errorf("GET of the go.mod beside a refused zip = %d, want 200", code)
	}

	reqs := u.Requests()
	if !slices.Contains(reqs, "/modferry.test/!upper/!case/@v/v1.0.0.mod") {
		t.Errorf("Requests() = %q, want the decoded upper-case request", reqs)
	}
	if len(reqs) < 20 {
		t.Errorf("Requests() holds %d paths, want every request", len(reqs))
	}
	if got, want := len(u.Versions()), len(mustFixtures(t)); got != want {
		t.Errorf("Versions() holds %d versions, want %d", got, want)
	}
}

func mustFixtures(t *testing.T) []built {
	all, err := fixtures()
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func TestWriteProject(t *testing.T) {
	if got := Projects(); !slices.Contains(got, "app") || !slices.Contains(got, "work") {
		t.Errorf("Projects() = %q, want app and work", got)
	}
	dir := t.TempDir()
	WriteProject(t, "work", dir)
	for _, f := range []string{"go.work", "a/go.mod", "a/a.go", "b/go.mod", "b/b_test.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if err := writeProject("nonesuch", dir); err == nil {
		t.Error("writeProject(nonesuch) succeeded")
	}
	if err := writeProject("../mod/x", dir); err == nil {
		t.Error("writeProject(../mod/x) succeeded")
	}
}
