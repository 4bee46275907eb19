package align

import (
	"context"
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/testupstream"
)

func TestHighest(t *testing.T) {
	for _, tc := range []struct {
		vs   []string
		want string
	}{
		{[]string{"v1.0.0", "v1.2.0", "v1.1.0"}, "v1.2.0"},
		{[]string{"v1.10.0", "v1.9.0"}, "v1.10.0"},
		{[]string{"v1.3.0-rc.1", "v1.2.0"}, "v1.3.0-rc.1"},
		{[]string{"v1.3.0-rc.1", "v1.3.0"}, "v1.3.0"},
		// A pseudo-version derived from v0.1.0 is above it ...
		{[]string{"v0.1.0", "v0.1.1-0.20240601000000-bbbbbbbbbbbb"}, "v0.1.1-0.20240601000000-bbbbbbbbbbbb"},
		// ... and below the next release.
		{[]string{"v0.1.1", "v0.1.1-0.20240601000000-bbbbbbbbbbbb"}, "v0.1.1"},
		// Pseudo-versions without a base order by time.
		{[]string{"v0.0.0-20240601000000-bbbbbbbbbbbb", "v0.0.0-20230101000000-aaaaaaaaaaaa"}, "v0.0.0-20240601000000-bbbbbbbbbbbb"},
		{[]string{"v2.0.0+incompatible", "v3.0.0+incompatible", "v1.9.0"}, "v3.0.0+incompatible"},
		{[]string{"v3.0.1-0.20240101000000-abcdefabcdef+incompatible", "v3.0.0+incompatible"}, "v3.0.1-0.20240101000000-abcdefabcdef+incompatible"},
		{nil, ""},
	} {
		if got := Highest(tc.vs); got != tc.want {
			t.Errorf("Highest(%q) = %q, want %q", tc.vs, got, tc.want)
		}
	}
}

func TestAllowList(t *testing.T) {
	l, err := ParseAllowList([]byte(`
# intended differences
example.com/legacy-*          # any versions
golang.org/x/text v0.3.7 v0.14.0
`))
	if err != nil {
		t.Fatal(err)
	}
	skew := func(path string, vs ...string) *Skew {
		s := &Skew{Module: path}
		for _, v := range vs {
			s.Uses = append(s.Uses, Use{Version: v})
		}
		return s
	}
	for _, tc := range []struct {
		s    *Skew
		want string
	}{
		{skew("example.com/legacy-db", "v1.0.0", "v2.0.0+incompatible"), "example.com/legacy-*"},
		{skew("example.com/legacy-db/sub", "v1.0.0", "v1.1.0"), "example.com/legacy-*"},
		{skew("example.com/legacy", "v1.0.0", "v1.1.0"), ""},
		{skew("golang.org/x/text", "v0.3.7", "v0.14.0"), "golang.org/x/text v0.3.7 v0.14.0"},
		{skew("golang.org/x/text", "v0.3.5", "v0.14.0"), ""},
		{skew("golang.org/x/net", "v0.3.7", "v0.14.0"), ""},
	} {
		got, ok := l.allows(tc.s)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("allows(%s %v) = %q, %v; want %q", tc.s.Module, tc.s.Uses, got, ok, tc.want)
		}
	}
	if _, ok := (*AllowList)(nil).allows(skew("a.b/c", "v1.0.0", "v1.1.0")); ok {
		t.Error("nil allow list allows a skew")
	}
	for _, bad := range []string{"a.b/c v1", "a.b/[c", "a.b/c,d.e/f"} {
		if _, err := ParseAllowList([]byte(bad)); err == nil {
			t.Errorf("ParseAllowList(%q) succeeded", bad)
		}
	}
}

func TestDiff(t *testing.T) {
	if d := Diff("go.mod", "a\n", "a\n"); d != "" {
		t.Errorf("Diff of equal texts = %q", d)
	}
	old := "module m\n\ngo 1.21\n\nrequire (\n\ta v1.0.0\n\tb v1.0.0\n\tc v1.0.0\n)\n"
	new := "module m\n\ngo 1.21\n\nrequire (\n\ta v1.0.0\n\tb v1.2.0\n\tc v1.0.0\n\td v1.0.0\n)\n"
	want := `--- x/go.mod
+++ x/go.mod
@@ -4,6 +4,7 @@
 
 require (
 	a v1.0.0
-	b v1.0.0
+	b v1.2.0
 	c v1.0.0
+	d v1.0.0
 )
`
	if got := Diff("x/go.mod", old, new); got != want {
		t.Errorf("Diff =\n%s\nwant\n%s", got, want)
	}
	// Two changes far apart make two hunks.
	var a, b []string
	for i := range 20 {
		a = append(a, string(rune('a'+i)))
	}
	b = append(b, a...)
	b[1], b[18] = "B", "S"
	got := Diff("f", strings.Join(a, "\n")+"\n", strings.Join(b, "\n")+"\n")
	if n := strings.Count(got, "@@ -"); n != 2 {
		t.Errorf("Diff with two distant changes has %d hunks, want 2:\n%s", n, got)
	}
	if !strings.Contains(got, "@@ -1,5 +1,5 @@\n a\n-b\n+B\n") || !strings.Contains(got, "@@ -16,5 +16,5 @@\n p\n q\n r\n-s\n+S\n t\n") {
		t.Errorf("Diff hunks wrong:\n%s", got)
	}
}

// alignFixture writes the align fixture (projects a, b and the workspace
// c) and completes their go.sum files, as a checked-out project has them.
// It returns the root directory and the go environment.
func alignFixture(t *testing.T) (root string, env, wsEnv []string) {
	up := testupstream.New(t)
	root = t.TempDir()
	testupstream.WriteProject(t, "align", root)
	env = testupstream.GoEnv(t, up.URL)
	wsEnv = append(env, "GOFLAGS=") // workspace mode rejects -mod=mod
	for _, p := range []struct {
		dir  string
		env  []string
		args []string
	}{
		{"a", env, []string{"mod", "tidy"}},
		{"b", env, []string{"mod", "tidy"}},
		{"c", wsEnv, []string{"mod", "download"}},
	} {
		if out, err := testupstream.RunGo(t, filepath.Join(root, p.dir), p.env, p.args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	return root, env, wsEnv
}

// treeHashes hashes every file under dir.
func treeHashes(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := make(map[string][32]byte)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = sha256.Sum256(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAnalyzeWrite runs the real go command over three projects with
// skew: it finds every skewed module with the right target and laggards,
// changes nothing, and --write aligns them all.
func TestAnalyzeWrite(t *testing.T) {
	root, env, _ := alignFixture(t)
	ctx := context.Background()
	before := treeHashes(t, root)

	// The workspace runs with GOFLAGS=-mod=mod, as a user's environment
	// may have it: -mod=readonly on the command line wins.
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")}
	held := map[module.Version]bool{{Path: "modferry.test/lib", Version: "v1.2.0"}: true}
	opts := Options{
		Env: env,
		Holds: func(_ context.Context, v module.Version) (bool, error) {
			return held[v], nil
		},
	}
	r, err := Analyze(ctx, dirs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if after := treeHashes(t, root); !reflect.DeepEqual(before, after) {
		t.Fatal("Analyze changed files in the projects")
	}
	a, b, c := dirs[0], dirs[1], dirs[2]
	if p := r.Projects[2]; !p.Workspace || !reflect.DeepEqual(p.MainModules, []string{"example.test/align/c/x", "example.test/align/c/y"}) {
		t.Errorf("project c = %+v, want the workspace of x and y", p)
	}
	type row struct {
		module, target string
		lagging        []string
		uses           int
		inStore        bool
	}
	var got []row
	for _, s := range r.Skews {
		got = append(got, row{s.Module, s.Target, s.Lagging, len(s.Uses), *s.InStore})
	}
	want := []row{
		{"modferry.test/dep", "v1.1.0", []string{a}, 3, false},
		{"modferry.test/lib", "v1.2.0", []string{a, b}, 3, true},
		{"modferry.test/major/v2", "v2.1.0", []string{a, c}, 3, false},
		{"modferry.test/skew", "v0.1.1-0.20240601000000-bbbbbbbbbbbb", []string{a}, 2, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("skews =\n%+v\nwant\n%+v", got, want)
	}

	// An allow-list rule covers major/v2's skew: Write leaves it alone.
	opts.Allow, err = ParseAllowList([]byte("modferry.test/major/* v2.0.0 v2.1.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err = Analyze(ctx, dirs, opts); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Unallowed()); n != 3 {
		t.Errorf("%d skews not allowed, want 3", n)
	}
	changes, err := Write(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Project != a || changes[1].Project != b {
		t.Fatalf("changes = %+v, want a and b raised", changes)
	}
	if d := changes[0].Diffs; len(d) != 1 || !strings.Contains(d[0].Diff, "+\tmodferry.test/lib v1.2.0\n") || !strings.Contains(d[0].Diff, "-\tmodferry.test/lib v1.0.0\n") {
		t.Errorf("a's diff = %+v", d)
	}
	r, err = Analyze(ctx, dirs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Skews) != 1 || r.Skews[0].Module != "modferry.test/major/v2" || !r.Skews[0].Allowed {
		t.Errorf("after Write skews = %+v, want only the allowed major/v2", r.Skews)
	}

	// Without the allow list, Write raises major/v2 in a and in the
	// workspace: y requires it, so go get runs there, then go work sync.
	opts.Allow = nil
	if r, err = Analyze(ctx, dirs, opts); err != nil {
		t.Fatal(err)
	}
	if changes, err = Write(ctx, r, opts); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Project != a || changes[1].Project != c {
		t.Fatalf("changes = %+v, want a and c raised", changes)
	}
	cmds := strings.Join(changes[1].Commands, "\n")
	if !strings.Contains(cmds, filepath.Join(c, "y")+") go get modferry.test/major/v2@v2.1.0") || !strings.Contains(cmds, "go work sync") {
		t.Errorf("commands = %q", cmds)
	}
	if r, err = Analyze(ctx, dirs, opts); err != nil {
		t.Fatal(err)
	}
	if len(r.Skews) != 0 {
		t.Errorf("after Write skews = %+v, want none", r.Skews)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Analyze(ctx, []string{dir}, Options{}); err == nil || !strings.Contains(err.Error(), "not a module root") {
		t.Errorf("Analyze of an empty directory: %v", err)
	}
	if _, err := Analyze(ctx, nil, Options{}); err == nil {
		t.Error("Analyze of no directories succeeded")
	}
}
