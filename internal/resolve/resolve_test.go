package resolve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestResolveHermetic resolves a module project, a go.work workspace and
// module arguments against a local upstream, then proves the result
// complete: a fresh go client served only the resolved files builds, tests,
// verifies and tidies every project offline.
func TestResolveHermetic(t *testing.T) {
	up := testupstream.New(t)
	root := t.TempDir()
	app := filepath.Join(root, "app")
	work := filepath.Join(root, "work")
	testupstream.WriteProject(t, "app", app)
	testupstream.WriteProject(t, "work", work)
	appMod, _ := os.ReadFile(filepath.Join(app, "go.mod"))

	wd := t.TempDir()
	t.Cleanup(func() { removeAll(wd) })
	var events atomic.Int64
	res, err := Resolve(context.Background(), Options{
		Projects: []string{app, work},
		Modules: []module.Version{
			{Path: "modferry.test/lib", Version: "latest"},
			{Path: "modferry.test/major/v2", Version: "v2.1.0"},
			{Path: "modferry.test/lib", Version: "v1.1.0"}, // a second version: a second pool
		},
		Upstream: up.URL,
		GoEnv:    []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB="},
		WorkDir:  wd,
		Progress: func(Event) { events.Add(1) },
		Logf:     t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	logResult(t, res)
	if events.Load() == 0 {
		t.Error("no progress events")
	}
	if got, _ := os.ReadFile(filepath.Join(app, "go.mod")); string(got) != string(appMod) {
		t.Error("Resolve modified the user's go.mod")
	}
	if _, err := os.Stat(filepath.Join(app, "go.sum")); err == nil {
		t.Error("Resolve wrote the user's go.sum")
	}
	if len(res.Projects) != 2 || res.Projects[0].Workspace || !res.Projects[1].Workspace {
		t.Errorf("Projects = %+v", res.Projects)
	}
	// The app's build list: lib v1.0.0 and dep v1.1.0 (lib asks for dep
	// v1.0.0, a go.mod-only version minimal version selection passes
	// over), without the main module.
	if bl := res.Projects[0].BuildList; !slices.Contains(bl, module.Version{Path: "modferry.test/lib", Version: "v1.0.0"}) ||
		!slices.Contains(bl, module.Version{Path: "modferry.test/dep", Version: "v1.1.0"}) ||
		slices.Contains(bl, module.Version{Path: "modferry.test/dep", Version: "v1.0.0"}) {
		t.Errorf("the app's build list = %v", bl)
	}
	if res.Modules[0] != (module.Version{Path: "modferry.test/lib", Version: "v1.2.0"}) || res.Modules[2].Version != "v1.1.0" {
		t.Errorf("Modules = %v, want lib@latest resolved to v1.2.0 and lib@v1.1.0 kept", res.Modules)
	}
	// Every .zip has .info and .mod, every .mod has .info.
	have := map[string]bool{}
	for _, f := range res.Files {
		have[f.Name()] = true
		if !strings.HasPrefix(f.Path, filepath.Join(wd, "download")) || f.Size <= 0 {
			t.Errorf("%s: path %s size %d", f, f.Path, f.Size)
		}
	}
	for _, f := range res.Files {
		for _, k := range map[modfiles.Kind][]modfiles.Kind{modfiles.Zip: {modfiles.Info, modfiles.Mod}, modfiles.Mod: {modfiles.Info}}[f.Kind] {
			if n, _ := modfiles.ProxyPath(f.Module, k); !have[n] {
				t.Errorf("%s without its .%s", f, k)
			}
		}
	}
	// The go.mod-only dependency (dep v1.0.0 of lib v1.0.0) is there.
	if !have["modferry.test/dep/@v/v1.0.0.mod"] {
		t.Error("go.mod-only module version modferry.test/dep@v1.0.0 missing")
	}

	proxy := serveOnly(t, res)
	proveProject(t, res, proxy, app)
	proveWorkspace(t, proxy, work)
	proveModules(t, res, proxy)
}

// proveWorkspace runs a workspace's commands offline (workspace mode
// rejects -mod=mod; go mod tidy runs per module, in module mode).
func proveWorkspace(t *testing.T, proxy, dir string) {
	t.Helper()
	w := filepath.Join(t.TempDir(), "work")
	if err := copyTree(dir, w); err != nil {
		t.Fatal(err)
	}
	env := append(offlineEnv(t, proxy), "GOWORK=", "GOFLAGS=-modcacherw")
	for _, args := range [][]string{
		{"mod", "download"},
		{"mod", "download", "all"},
		{"build", "./a/...", "./b/..."},
		{"test", "./a/...", "./b/..."},
		{"mod", "verify"},
		{"list", "-m", "all"},
	} {
		runGo(t, env, w, args...)
	}
	for _, m := range []string{"a", "b"} {
		runGo(t, append(env, "GOFLAGS=-mod=mod -modcacherw"), filepath.Join(w, m), "mod", "tidy", "-e")
	}
}

// TestResolveErrorNamesProject checks that a failing go command is
// reported with the project, the command and its stderr.
func TestResolveErrorNamesProject(t *testing.T) {
	up := testupstream.New(t)
	proj := filepath.Join(t.TempDir(), "broken")
	writeTree(t, proj, map[string]string{
		"go.mod":  "module example.test/broken\n\ngo 1.21\n\nrequire modferry.test/lib v1.9.9\n",
		"main.go": "package main\n\nimport _ \"modferry.test/lib\"\n\nfunc main() {}\n",
	})
	wd := t.TempDir()
	t.Cleanup(func() { removeAll(wd) })
	_, err := Resolve(context.Background(), Options{
		Projects: []string{proj}, Upstream: up.URL, WorkDir: wd,
		GoEnv: []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY="},
	})
	if err == nil {
		t.Fatal("Resolve succeeded on a project requiring a missing version")
	}
	for _, want := range []string{proj, "go list -m -json all", "v1.9.9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseProxyList(t *testing.T) {
	for _, tc := range []struct {
		in       string
		proxies  int
		tail     string
		tailPipe bool
	}{
		{"https://proxy.example,direct", 1, "direct", false},
		{"https://a|https://b|direct", 2, "direct", true},
		{"https://a,off,https://b", 1, "off", false},
		{"a.example", 1, "", false},
		{"direct", 0, "direct", false},
	} {
		l, err := parseProxyList(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if len(l.Proxies) != tc.proxies || l.Tail != tc.tail || l.TailAnyError != tc.tailPipe {
			t.Errorf("%q: got %+v", tc.in, l)
		}
	}
}

// TestFetcherFallbackAndRetry checks the GOPROXY list rules: ',' falls
// through only on 404/410, '|' on any error, and 5xx is retried while 404
// is not.
func TestFetcherFallbackAndRetry(t *testing.T) {
	var flaky, missing atomic.Int64
	srvFlaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srvFlaky.Close()
	srvMissing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		missing.Add(1)
		http.NotFound(w, r)
	}))
	defer srvMissing.Close()
	srvBroken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srvBroken.Close()

	get := func(list string) (string, error) {
		l, err := parseProxyList(list)
		if err != nil {
			t.Fatal(err)
		}
		f := &fetcher{list: l, client: http.DefaultClient, retries: 3, backoff: 1}
		var got string
		err = f.get(context.Background(), "x/@v/list", func(r io.Reader) error {
			b, err := io.ReadAll(r)
			got = string(b)
			return err
		})
		return got, err
	}
	if got, err := get(srvMissing.URL + "," + srvFlaky.URL); err != nil || got != "ok" {
		t.Errorf("404 then flaky: %q, %v", got, err)
	}
	if n := missing.Load(); n != 1 {
		t.Errorf("404 was tried %d times, want 1 (no retry)", n)
	}
	if _, err := get(srvBroken.URL + "," + srvFlaky.URL); err == nil {
		t.Error("',' fell through a 403")
	}
	if got, err := get(srvBroken.URL + "|" + srvFlaky.URL); err != nil || got != "ok" {
		t.Errorf("'|' after 403: %q, %v", got, err)
	}
	if _, err := get(srvMissing.URL); !os.IsNotExist(err) && !strings.Contains(err.Error(), "not found") {
		t.Errorf("all 404: %v", err)
	}
}

// TestResolveCreditsEachProject resolves two projects with disjoint
// dependencies (they run at once) and checks that each module file is
// credited to a go command of the project that needs it: every command
// has its own GOPROXY URL on the recorder.
func TestResolveCreditsEachProject(t *testing.T) {
	up := testupstream.New(t)
	root := t.TempDir()
	projects := map[string]string{ // project directory -> its only dependency
		filepath.Join(root, "upper"):  "modferry.test/Upper/Case v1.0.0",
		filepath.Join(root, "incomp"): "modferry.test/incompat v3.0.0+incompatible",
	}
	var dirs []string
	for dir, dep := range projects {
		path, _, _ := strings.Cut(dep, " ")
		writeTree(t, dir, map[string]string{
			"go.mod":  "module example.test/" + filepath.Base(dir) + "\n\ngo 1.21\n\nrequire " + dep + "\n",
			"main.go": "package main\n\nimport _ \"" + path + "\"\n\nfunc main() {}\n",
		})
		dirs = append(dirs, dir)
	}
	wd := t.TempDir()
	t.Cleanup(func() { removeAll(wd) })
	res, err := Resolve(context.Background(), Options{
		Projects: dirs, Upstream: up.URL, WorkDir: wd,
		GoEnv: []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY="},
	})
	if err != nil {
		t.Fatal(err)
	}
	zips := map[string]int{}
	for _, c := range res.Requests {
		zips[c.Project] += c.Zip
	}
	for _, dir := range dirs {
		if zips[dir] != 1 {
			t.Errorf("%s: %d zips credited, want 1 (its one dependency); all: %v", dir, zips[dir], zips)
		}
	}
	for i, p := range res.Projects {
		if p.Path != dirs[i] {
			t.Errorf("Projects[%d] = %s, want %s (the order of Options.Projects)", i, p.Path, dirs[i])
		}
	}
}

// TestResolveRunDir checks that with Options.RunDir the go commands'
// private module cache (and the project copies) live there, not in
// WorkDir, and that nothing is left in either but WorkDir's download
// store and build cache, or, with Options.Cleanup, once the removal it was
// handed has run. A wrapper go on PATH records the GOMODCACHE of every go
// command Resolve runs.
func TestResolveRunDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the go wrapper is a shell script")
	}
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin, log := t.TempDir(), filepath.Join(t.TempDir(), "gomodcache.log")
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = env ] || echo \"$GOMODCACHE\" >> '%s'\nexec '%s' \"$@\"\n", log, realGo)
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	up := testupstream.New(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	wd, run := t.TempDir(), filepath.Join(t.TempDir(), "scratch")
	t.Cleanup(func() { removeAll(wd); removeAll(run) })
	res, err := Resolve(context.Background(), Options{
		Projects: []string{app}, Upstream: up.URL, WorkDir: wd, RunDir: run,
		GoEnv: []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB="},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) == 0 {
		t.Fatal("nothing resolved")
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		t.Fatal("the go wrapper saw no go command")
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, run+string(filepath.Separator)) {
			t.Errorf("a go command ran with GOMODCACHE=%s, not under RunDir %s", l, run)
		}
	}
	if left, _ := os.ReadDir(run); len(left) != 0 {
		t.Errorf("RunDir keeps %v after Resolve", left)
	}
	entries, _ := os.ReadDir(wd)
	for _, e := range entries {
		if e.Name() != "download" && e.Name() != "gocache" {
			t.Errorf("WorkDir keeps %s after Resolve", e.Name())
		}
	}

	// With Options.Cleanup the removal is handed over, once, and
	// removes the run directory when called.
	var removals []func()
	if _, err := Resolve(context.Background(), Options{
		Projects: []string{app}, Upstream: up.URL, WorkDir: wd, RunDir: run,
		GoEnv:   []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB="},
		Cleanup: func(remove func()) { removals = append(removals, remove) },
	}); err != nil {
		t.Fatal(err)
	}
	if len(removals) != 1 {
		t.Fatalf("Cleanup got %d removals, want 1", len(removals))
	}
	if left, _ := os.ReadDir(run); len(left) != 1 {
		t.Errorf("RunDir holds %v when Resolve returns with a Cleanup, want its run directory", left)
	}
	removals[0]()
	if left, _ := os.ReadDir(run); len(left) != 0 {
		t.Errorf("RunDir keeps %v after the removal", left)
	}
}
