package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/testupstream"
)

// mfRunIn runs modferry in dir with exactly env and returns its standard
// output, standard error and exit code.
func mfRunIn(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, modferryBin, args...)
	cmd.Dir, cmd.Env = dir, env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	t.Logf("modferry %s\n%s%s", strings.Join(args, " "), o.String(), e.String())
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestAlign runs modferry align over three fixture projects with skew
// (two module roots and a workspace) served by the test upstream: the
// JSON report, the table, --fail-on-skew with and without an allow list,
// --store, and --write followed by builds of the raised projects.
func TestAlign(t *testing.T) {
	up := testupstream.New(t)
	root := t.TempDir()
	testupstream.WriteProject(t, "align", root)
	env := testupstream.GoEnv(t, up.URL)
	wsEnv := append(env, "GOFLAGS=")
	for dir, args := range map[string][]string{"a": {"mod", "tidy"}, "b": {"mod", "tidy"}, "c": {"mod", "download"}} {
		if out, err := testupstream.RunGo(t, filepath.Join(root, dir), wsEnv, args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	// The store holds lib v1.2.0 only.
	store := filepath.Join(root, "store")
	for _, ext := range []string{".info", ".mod", ".zip"} {
		src := filepath.Join(up.Dir, "modferry.test", "lib", "@v", "v1.2.0"+ext)
		dst := filepath.Join(store, "download", "modferry.test", "lib", "@v", "v1.2.0"+ext)
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	projects := []string{"a", "b", "c"}
	out, _, code := mfRunIn(t, root, wsEnv, append([]string{"align", "--json", "--store", store}, projects...)...)
	if code != 0 {
		t.Fatalf("align --json exited %d", code)
	}
	for _, key := range []string{`"skews"`, `"lagging"`, `"inStore": true`, `"inStore": false`, `"mainModules"`, `"changes": []`, `"aligned": false`} {
		if !strings.Contains(out, key) {
			t.Errorf("align --json output lacks %s", key)
		}
	}
	checkJSONContract(t, "align --json", out)
	var report struct {
		Skews []struct {
			Module, Target string
			Lagging        []string
			InStore        *bool
		}
		Aligned bool
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range report.Skews {
		got[s.Module] = s.Target + " " + strings.Join(s.Lagging, ",")
		if s.InStore == nil || *s.InStore != (s.Module == "modferry.test/lib") {
			t.Errorf("%s: inStore = %v", s.Module, s.InStore)
		}
	}
	want := map[string]string{
		"modferry.test/dep":      "v1.1.0 a",
		"modferry.test/lib":      "v1.2.0 a,b",
		"modferry.test/major/v2": "v2.1.0 a,c",
		"modferry.test/skew":     "v0.1.1-0.20240601000000-bbbbbbbbbbbb a",
	}
	if len(got) != len(want) {
		t.Errorf("skews = %v, want %v", got, want)
	}
	for m, w := range want {
		if got[m] != w {
			t.Errorf("skew %s = %q, want %q", m, got[m], w)
		}
	}

	// The table, and --fail-on-skew's exit code.
	out, stderr, code := mfRunIn(t, root, wsEnv, append([]string{"align", "--fail-on-skew"}, projects...)...)
	if code != 1 || !strings.Contains(stderr, "4 modules selected at different versions") {
		t.Errorf("align --fail-on-skew: exit %d, stderr %q; want 1 and the count", code, stderr)
	}
	if !strings.Contains(out, "MODULE") || !strings.Contains(out, "v1.0.0 *") {
		t.Errorf("align table:\n%s", out)
	}

	// An allow list covering every skew makes the gate pass.
	allow := filepath.Join(root, "allow.txt")
	os.WriteFile(allow, []byte("# intended\nmodferry.test/lib\nmodferry.test/dep v1.0.0 v1.1.0\nmodferry.test/major/*\nmodferry.test/skew # pseudo\n"), 0o644)
	if _, _, code := mfRunIn(t, root, wsEnv, append([]string{"align", "--fail-on-skew", "--allow", allow}, projects...)...); code != 0 {
		t.Errorf("align --fail-on-skew with a covering allow list exited %d", code)
	}

	// --write raises a, b and c, prints each go.mod diff, and the
	// projects then build with the aligned versions.
	out, _, code = mfRunIn(t, root, wsEnv, append([]string{"align", "--write", "--fail-on-skew"}, projects...)...)
	if code != 0 {
		t.Fatalf("align --write --fail-on-skew exited %d", code)
	}
	for _, s := range []string{"-\tmodferry.test/lib v1.0.0\n", "+\tmodferry.test/lib v1.2.0\n", "+require modferry.test/major/v2 v2.1.0\n", "go work sync", "aligned: 3 projects"} {
		if !strings.Contains(out, s) {
			t.Errorf("align --write output lacks %q", s)
		}
	}
	for dir, want := range map[string]string{
		"a":   "modferry.test/lib@v1.2.0 modferry.test/dep@v1.1.0 modferry.test/major/v2@v2.1.0 modferry.test/skew@v0.1.1-0.20240601000000-bbbbbbbbbbbb",
		"b":   "modferry.test/lib@v1.2.0",
		"c/y": "modferry.test/lib@v1.2.0 modferry.test/dep@v1.1.0 modferry.test/major/v2@v2.1.0",
	} {
		out, err := testupstream.RunGo(t, filepath.Join(root, dir), wsEnv, "run", ".")
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("go run in %s = %q, %v; want %q", dir, out, err, want)
		}
	}
}
