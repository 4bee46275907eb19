package testupstream

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGoCommand proves the fixtures right with the real go command: a
// project resolves, downloads, builds, tests and verifies against the
// upstream alone, and version queries give the answers the fixtures are
// meant to give.
func TestGoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	t.Parallel()
	u := New(t)
	env := GoEnv(t, u.URL)
	app := t.TempDir()
	WriteProject(t, "app", app)

	run := func(dir string, env []string, args ...string) string {
		t.Helper()
		out, err := RunGo(t, dir, env, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	run(app, env, "mod", "download", "all")
	run(app, env, "build", "./...")
	run(app, env, "test", "./...")
	run(app, env, "mod", "verify")
	if out := run(app, env, "list", "-m", "modferry.test/dep"); out != "modferry.test/dep v1.1.0\n" {
		t.Errorf("go list -m modferry.test/dep = %q, want v1.1.0 selected", out)
	}

	reqs := u.Requests()
	t.Logf("requests: %q", reqs)
	for _, want := range []string{
		"/modferry.test/dep/@v/v1.0.0.mod", // needed for the module graph ...
		"/modferry.test/dep/@v/v1.1.0.zip",
		"/modferry.test/!upper/!case/@v/v1.0.0.zip",
	} {
		if !slices.Contains(reqs, want) {
			t.Errorf("the go command did not ask for %s", want)
		}
	}
	if slices.Contains(reqs, "/modferry.test/dep/@v/v1.0.0.zip") { // ... but not selected
		t.Errorf("the go command asked for dep v1.0.0.zip: it should need only its go.mod")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "-m", "-versions", "modferry.test/retract"}, "modferry.test/retract v1.0.0 v1.2.0\n"},
		{[]string{"list", "-m", "-retracted", "-versions", "modferry.test/retract"}, "modferry.test/retract v1.0.0 v1.1.0 v1.2.0\n"},
		{[]string{"list", "-m", "-versions", "modferry.test/lib"}, "modferry.test/lib v1.0.0 v1.1.0 v1.2.0 v1.3.0-rc.1\n"},
		{[]string{"list", "-m", "-versions", "modferry.test/Upper/Case"}, "modferry.test/Upper/Case v1.0.0\n"},
		{[]string{"list", "-m", "modferry.test/lib@v1"}, "modferry.test/lib v1.2.0\n"},
		{[]string{"list", "-m", "modferry.test/major@latest"}, "modferry.test/major v1.0.0\n"},
		{[]string{"list", "-m", "modferry.test/pseudo@latest"}, "modferry.test/pseudo v0.0.0-20240101000000-abcdefabcdef\n"},
		{[]string{"list", "-m", "-u", "-f", "{{.Path}} {{.Version}} {{.Retracted}}", "modferry.test/retract"}, "modferry.test/retract v1.1.0 [v1.1.0 was published by mistake.]\n"},
	} {
		if got := run(app, env, tc.args...); got != tc.want {
			t.Errorf("go %s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	run(app, env, "get", "modferry.test/...@latest")
	got := run(app, env, "list", "-m", "-f", "{{.Path}} {{.Version}}", "all")
	for _, want := range []string{
		"modferry.test/lib v1.2.0",
		"modferry.test/major/v2 v2.1.0",
		"modferry.test/retract v1.2.0",
		"modferry.test/incompat v3.0.0+incompatible",
		"modferry.test/pseudo v0.0.0-20240101000000-abcdefabcdef",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("after go get modferry.test/...@latest, go list -m all = %q, want %q", got, want)
		}
	}
	run(app, env, "get", "modferry.test/lib@v1.3.0-rc.1")
	run(app, env, "build", "./...")
	run(app, env, "mod", "verify")

	// A workspace, with GOFLAGS unset as workspace mode requires.
	work := t.TempDir()
	WriteProject(t, "work", work)
	wenv := append(slices.Clip(env), "GOFLAGS=")
	run(work, wenv, "mod", "download")
	run(work, wenv, "build", "./a/...", "./b/...")
	run(work, wenv, "test", "./a/...", "./b/...")
	if out := run(work, wenv, "list", "-m", "all"); !strings.Contains(out, "modferry.test/major/v2 v2.1.0\n") {
		t.Errorf("go list -m all in the workspace = %q, want major/v2 v2.1.0", out)
	}

	// The download layout works as a file:// GOPROXY too.
	fenv := GoEnv(t, "file://"+filepath.ToSlash(u.Dir))
	fapp := t.TempDir()
	WriteProject(t, "app", fapp)
	run(fapp, fenv, "mod", "download", "all")
	if out := run(fapp, fenv, "list", "-m", "modferry.test/pseudo@latest"); !strings.Contains(out, "v0.0.0-20240101000000-abcdefabcdef") {
		t.Errorf("pseudo@latest from file:// = %q", out)
	}
	if _, err := os.Stat(filepath.Join(app, "go.sum")); err != nil {
		t.Errorf("the go command wrote no go.sum: %v", err)
	}
}
