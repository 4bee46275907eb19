package resolve

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestResolveTools resolves two commands given by package path, whose own
// module graphs select different versions of one dependency, and a
// library module, against an upstream that lists pseudo-versions newer
// than the latest release and refuses a zip no go install needs. Offline,
// served only the resolved files, go install builds each command with
// the dependency version its own graph selects.
func TestResolveTools(t *testing.T) {
	up := testupstream.New(t)
	up.Refuse(
		"modferry.test/unneeded/@v/v1.0.0.zip",                             // only a test of toolb imports it
		"modferry.test/shared/@v/v1.1.1-0.20250301000000-aaaaaaaaaaaa.mod", // a version only stat'ed
	)
	wd := t.TempDir()
	t.Cleanup(func() { removeAll(wd) })
	res, err := Resolve(context.Background(), Options{
		Modules: []module.Version{
			{Path: "modferry.test/toola/cmd/toola", Version: "v1.0.0"},
			{Path: "modferry.test/toolb/cmd/toolb", Version: "latest"},
			{Path: "modferry.test/shared", Version: "v1.1.0"},
		},
		Upstream: up.URL,
		GoEnv:    []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB="},
		WorkDir:  wd,
		Logf:     t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	logResult(t, res)
	want := []module.Version{
		{Path: "modferry.test/toola/cmd/toola", Version: "v1.0.0"},
		{Path: "modferry.test/toolb/cmd/toolb", Version: "v1.0.0"},
		{Path: "modferry.test/shared", Version: "v1.1.0"},
	}
	if len(res.Modules) != len(want) {
		t.Fatalf("Modules = %v, want %v", res.Modules, want)
	}
	for i := range want {
		if res.Modules[i] != want[i] {
			t.Errorf("Modules[%d] = %v, want %v", i, res.Modules[i], want[i])
		}
	}
	have := map[string]bool{}
	mods := map[module.Version]bool{}
	for _, f := range res.Files {
		have[f.Name()] = true
		if f.Kind == modfiles.Mod {
			mods[f.Module] = true
		}
	}
	for _, name := range []string{
		"modferry.test/shared/@v/v1.0.0.zip",                              // toola's own graph
		"modferry.test/shared/@v/v1.1.0.zip",                              // toolb's own graph
		"modferry.test/unneeded/@v/v1.0.0.mod",                            // in toolb's module graph
		"modferry.test/toola/@v/v1.0.1-0.20250401000000-bbbbbbbbbbbb.mod", // stat'ed, completed
	} {
		if !have[name] {
			t.Errorf("missing %s", name)
		}
	}
	for _, name := range []string{
		"modferry.test/unneeded/@v/v1.0.0.zip",
		"modferry.test/shared/@v/v1.1.1-0.20250301000000-aaaaaaaaaaaa.info", // no go.mod to complete it
	} {
		if have[name] {
			t.Errorf("%s resolved, but nothing needs it", name)
		}
	}
	for _, f := range res.Files {
		if f.Kind == modfiles.Info && !mods[f.Module] {
			t.Errorf("%s without its .mod", f)
		}
	}

	proxy := serveOnly(t, res)
	env := offlineEnv(t, proxy)
	gobin := t.TempDir()
	env = append(env, "GOBIN="+gobin)
	dir := t.TempDir()
	for _, tool := range []struct{ arg, out string }{
		{"modferry.test/toola/cmd/toola@v1.0.0", "built with modferry.test/shared@v1.0.0"},
		{"modferry.test/toolb/cmd/toolb@v1.0.0", "built with modferry.test/shared@v1.1.0"},
	} {
		runGo(t, env, dir, "install", tool.arg)
		name := filepath.Base(strings.Split(tool.arg, "@")[0])
		out, err := runBinary(filepath.Join(gobin, name))
		if err != nil || !strings.Contains(out, tool.out) {
			t.Errorf("%s printed %q (%v), want %q", name, out, err, tool.out)
		}
	}
	proveModules(t, &Result{Modules: res.Modules[2:]}, proxy)
}

func runBinary(name string) (string, error) {
	out, err := exec.Command(name).CombinedOutput()
	return string(out), err
}

// TestMainModule reads the main module from go install -n output.
func TestMainModule(t *testing.T) {
	out := []byte("mkdir -p $WORK/b001/\ncat >$WORK/b001/importcfg.link << 'EOF' # internal\npackagefile x=y\n" +
		`modinfo "0w\xaf\f\x92t\b\x02A\xe1\xc1\a\xe6\xd6\x18\xe6path\texample.com/m/cmd/x\nmod\texample.com/m\tv1.2.3\th1:abc=\ndep\texample.com/d\tv0.1.0\th1:def=\n\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"` +
		"\nEOF\n")
	m, ok := mainModule(out)
	if !ok || m != (module.Version{Path: "example.com/m", Version: "v1.2.3"}) {
		t.Fatalf("mainModule = %v, %v", m, ok)
	}
	if _, ok := mainModule([]byte("no build information\n")); ok {
		t.Fatal("mainModule found a module in output without one")
	}
}

// TestResolveRefusedCommand: a command go install refuses (its go.mod has
// a replace directive) fails the resolution with go install's error,
// rather than being carried as a library that would not install offline.
func TestResolveRefusedCommand(t *testing.T) {
	up := testupstream.New(t)
	wd := t.TempDir()
	t.Cleanup(func() { removeAll(wd) })
	_, err := Resolve(context.Background(), Options{
		Modules:  []module.Version{{Path: "modferry.test/toolr/cmd/toolr", Version: "v1.0.0"}},
		Upstream: up.URL,
		GoEnv:    []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB="},
		WorkDir:  wd,
		Logf:     t.Logf,
	})
	var ge *GoCommandError
	if !errors.As(err, &ge) || ge.Args[0] != "install" || !strings.Contains(ge.Stderr, "replace") {
		t.Fatalf("Resolve = %v, want go install's error about the replace directive", err)
	}
}

func TestProcsEnv(t *testing.T) {
	if got := procsEnv([]string{"HOME=/h", "GOMAXPROCS=3"}, 8); got != nil {
		t.Errorf("with GOMAXPROCS set by the user: %q, want nothing", got)
	}
	want := "GOMAXPROCS=" + strconv.Itoa(max(8, runtime.NumCPU()))
	if got := procsEnv([]string{"HOME=/h"}, 8); len(got) != 1 || got[0] != want {
		t.Errorf("unset: %q, want %q", got, want)
	}
	want = "GOMAXPROCS=" + strconv.Itoa(runtime.NumCPU())
	if got := procsEnv(nil, 1); len(got) != 1 || got[0] != want {
		t.Errorf("jobs 1: %q, want %q (the cores)", got, want)
	}
}

// TestOnlyModuleAt checks when a command's main module is certain before
// go install runs (so that its graph is fetched beside it): a canonical
// version that exactly one of the path's prefixes has as a module.
func TestOnlyModuleAt(t *testing.T) {
	up := testupstream.New(t)
	list, err := parseProxyList(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := newRecorder(context.Background(), dir, &fetcher{list: list, client: http.DefaultClient}, 4, "", nil)
	g := &goRunner{rec: rec}
	for _, tt := range []struct {
		arg  module.Version
		want string // "" for not certain
	}{
		{module.Version{Path: "modferry.test/toola/cmd/toola", Version: "v1.0.0"}, "modferry.test/toola"},
		{module.Version{Path: "modferry.test/toola", Version: "v1.0.0"}, "modferry.test/toola"},
		{module.Version{Path: "modferry.test/major/v2/cmd", Version: "v2.1.0"}, "modferry.test/major/v2"},
		// Two modules at v1.0.0 on the path: go install decides.
		{module.Version{Path: "modferry.test/nest/inner/pkg", Version: "v1.0.0"}, ""},
		// Queries and versions no module has.
		{module.Version{Path: "modferry.test/toolb/cmd/toolb", Version: "latest"}, ""},
		{module.Version{Path: "modferry.test/toola/cmd/toola", Version: "v1.0"}, ""},
		{module.Version{Path: "modferry.test/toola/cmd/toola", Version: "v9.9.9"}, ""},
	} {
		m, ok := onlyModuleAt(context.Background(), g, tt.arg)
		got := ""
		if ok {
			got = m.Path
			if m.Version != tt.arg.Version {
				t.Errorf("onlyModuleAt(%v) = %v, want version %s", tt.arg, m, tt.arg.Version)
			}
		}
		if got != tt.want {
			t.Errorf("onlyModuleAt(%v) = %q, want %q", tt.arg, got, tt.want)
		}
	}
	// The go.mod of the module found is in the recorder's store, where
	// toolGraph reads it.
	name, _ := modfiles.ProxyPath(module.Version{Path: "modferry.test/toola", Version: "v1.0.0"}, modfiles.Mod)
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
		t.Errorf("the main module's go.mod: %v", err)
	}
}
