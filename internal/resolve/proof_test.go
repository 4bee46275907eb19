package resolve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/testupstream"
)

// serveOnly copies exactly res.Files into a fresh GOPROXY tree and
// returns its file:// URL, so that nothing else can be served. Like a
// modferry store, it lists the versions with zips, pseudo-versions left
// out, in each module's @v/list.
func serveOnly(t *testing.T, res *Result) string {
	t.Helper()
	dir := t.TempDir()
	lists := map[string]string{}
	for _, f := range res.Files {
		if f.Kind == modfiles.Zip && !module.IsPseudoVersion(f.Module.Version) {
			name := filepath.Join(dir, filepath.FromSlash(f.Name()))
			lists[filepath.Join(filepath.Dir(name), "list")] += f.Module.Version + "\n"
		}
	}
	for name, list := range lists {
		if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(list), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range res.Files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Name()))
		if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(f.Path, dst); err != nil {
			t.Fatal(err)
		}
	}
	return "file://" + filepath.ToSlash(dir)
}

// offlineEnv is the environment of a go client that can only reach proxy.
func offlineEnv(t *testing.T, proxy string) []string {
	t.Helper()
	home := t.TempDir()
	testupstream.TelemetryOff(t, home)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"GOPATH="+filepath.Join(home, "gopath"),
		"GOMODCACHE="+filepath.Join(home, "gopath", "pkg", "mod"),
		"GOCACHE="+filepath.Join(home, "gocache"),
		"GOPROXY="+proxy,
		"GOSUMDB=off", // the checksum database is checked elsewhere
		"GOFLAGS=-mod=mod -modcacherw",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
	)
}

func runGo(t *testing.T, env []string, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("offline: go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// proveProject copies the project dir and runs, offline against only the
// resolved files, what its users run.
func proveProject(t *testing.T, res *Result, proxy, dir string) {
	t.Helper()
	work := filepath.Join(t.TempDir(), filepath.Base(dir))
	if err := copyTree(dir, work); err != nil {
		t.Fatal(err)
	}
	env := offlineEnv(t, proxy)
	before, _ := os.ReadFile(filepath.Join(work, "go.mod"))
	for _, args := range [][]string{
		{"mod", "download", "all"},
		{"build", "./..."},
		{"test", "./..."},
		{"mod", "verify"},
		{"mod", "tidy"},
		{"list", "-m", "all"},
	} {
		runGo(t, env, work, args...)
	}
	after, _ := os.ReadFile(filepath.Join(work, "go.mod"))
	if string(before) != string(after) {
		t.Errorf("offline go mod tidy changed go.mod:\n%s\n---\n%s", before, after)
	}
}

// proveModules requires each resolved module argument from a fresh
// module of its own, offline, and loads its packages and their tests:
// each argument is resolved on its own, not with the others.
func proveModules(t *testing.T, res *Result, proxy string) {
	t.Helper()
	env := offlineEnv(t, proxy)
	for _, m := range res.Modules {
		dir := t.TempDir()
		runGo(t, env, dir, "mod", "init", "example.com/offline")
		runGo(t, env, dir, "get", m.String())
		runGo(t, env, dir, "list", "-deps", "-test", m.Path+"/...")
		runGo(t, env, dir, "mod", "download", "all")
		runGo(t, env, dir, "mod", "verify")
		runGo(t, env, dir, "list", "-m", "all")
	}
}
