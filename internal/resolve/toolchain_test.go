package resolve

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestSelectToolchain: which toolchain a go1.26.8 go command runs with
// GOTOOLCHAIN=auto for which go and toolchain lines.
func TestSelectToolchain(t *testing.T) {
	for _, c := range []struct {
		goLine, tc, want string
	}{
		{"1.27", "", "go1.27.0"}, // a language version: its first release, no list
		{"1.27.0", "", "go1.27.0"},
		{"1.27.4", "", "go1.27.4"},
		{"1.27rc2", "", "go1.27rc2"},
		{"1.27", "go1.27.3", "go1.27.3"},   // the toolchain line is newer than go1.27.0
		{"1.27.5", "go1.27.3", "go1.27.5"}, // the go line wins when newer
		{"1.26.0", "go1.27.3", "go1.27.3"},
		{"1.21", "go1.27.3-custom", "go1.27.3-custom"},
		{"1.27", "default", ""}, // toolchain default: always the local go
		{"1.26.8", "", ""},
		{"1.26", "", ""},
		{"1.22.0", "go1.23.4", ""}, // older than the local go
		{"1.26.0", "go1.26.8", ""},
		{"", "", ""},
		{"1.20", "", ""}, // before 1.21 no ".0" is added, and it is older anyway
	} {
		got, err := SelectToolchain(c.goLine, c.tc, "go1.26.8")
		if err != nil || got != c.want {
			t.Errorf("SelectToolchain(go %q, toolchain %q, go1.26.8) = %q, %v; want %q", c.goLine, c.tc, got, err, c.want)
		}
	}
	for _, bad := range []string{"1.27.3", "bash", "go1.27/../x"} {
		if got, err := SelectToolchain("1.21", bad, "go1.26.8"); !errors.Is(err, ErrInvalidToolchain) {
			t.Errorf("SelectToolchain(toolchain %q) = %q, %v; want ErrInvalidToolchain", bad, got, err)
		}
	}
	// A local go with a suffix in its version.
	if got, err := SelectToolchain("1.27", "", "go1.26.8 X:nocoverageredesign"); err != nil || got != "go1.27.0" {
		t.Errorf("with a suffixed local version: %q, %v", got, err)
	}
}

// TestSelectToolchainAgreesWithGo runs the real go command with
// GOTOOLCHAIN=auto in modules and a workspace with newer go and toolchain
// lines, against a local proxy whose golang.org/toolchain version list
// holds newer patch releases, other platforms and pseudo-versions. The
// toolchain zip the go command asks for must be the one SelectToolchain
// names (and none when it names the local go), and a bare go line must not
// send it to the list.
func TestSelectToolchainAgreesWithGo(t *testing.T) {
	local := runtime.Version()
	v := fromToolchain(local)
	if v == "" || !strings.HasPrefix(v, "1.") {
		t.Skipf("local go %q is not a release", local)
	}
	var minor int
	fmt.Sscanf(v, "1.%d", &minor)
	next := fmt.Sprintf("1.%d", minor+1)
	plat := runtime.GOOS + "-" + runtime.GOARCH

	var mu sync.Mutex
	var asked []string
	list := strings.Join([]string{
		"v0.0.1-go" + next + ".0." + plat,
		"v0.0.1-go" + next + ".3." + plat,
		"v0.0.1-go" + next + ".4." + plat,
		"v0.0.1-go" + next + ".9.plan9-arm",
		"v0.0.2-0.20260101000000-abcdefabcdef", // a pseudo-version, as some proxies list
		"v0.0.1-0.20260101000000-abcdefabcdef",
	}, "\n") + "\n"
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/golang.org/toolchain/@v/list" {
			fmt.Fprint(w, list)
			return
		}
		http.NotFound(w, r)
	}))
	defer proxy.Close()

	for _, c := range []struct {
		name, file, content string
	}{
		{"go line only", "go.mod", "module m\n\ngo " + next + "\n"},
		{"go line with patch", "go.mod", "module m\n\ngo " + next + ".4\n"},
		{"go and toolchain lines", "go.mod", "module m\n\ngo " + next + "\n\ntoolchain go" + next + ".3\n"},
		{"older go, newer toolchain", "go.mod", "module m\n\ngo 1.21.0\n\ntoolchain go" + next + ".3\n"},
		{"toolchain default", "go.mod", "module m\n\ngo " + next + "\n\ntoolchain default\n"},
		{"older lines", "go.mod", "module m\n\ngo 1.21\n\ntoolchain go1.21.5\n"},
		{"go.work newer", "go.work", "go " + next + "\n\nuse ./a\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{c.file: c.content})
			pc := &projectCopy{Orig: dir, Root: dir, Modules: []string{dir}}
			if c.file == "go.work" {
				a := filepath.Join(dir, "a")
				writeTree(t, a, map[string]string{"go.mod": "module a\n\ngo 1.21\n"})
				pc.Workspace, pc.Modules = true, []string{a}
			}
			sels, err := projectToolchains(pc, local)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			asked = nil
			mu.Unlock()
			env := append(testupstream.GoEnv(t, proxy.URL), "GOTOOLCHAIN=auto", "GOFLAGS=")
			out, _ := testupstream.RunGo(t, dir, env, "version")
			mu.Lock()
			defer mu.Unlock()
			var zips []string
			for _, p := range asked {
				if p == "/golang.org/toolchain/@v/list" {
					t.Errorf("the go command listed toolchains for %s", c.name)
				}
				if z, ok := strings.CutPrefix(p, "/golang.org/toolchain/@v/"); ok && strings.HasSuffix(z, ".zip") {
					zips = append(zips, strings.TrimSuffix(z, ".zip"))
				}
			}
			want := []string{}
			if sels[0] != "" {
				want = []string{ToolchainVersion(sels[0], runtime.GOOS, runtime.GOARCH).Version}
			}
			if fmt.Sprint(zips) != fmt.Sprint(want) {
				t.Errorf("SelectToolchain chose %q; the go command asked for toolchain zips %v\n%s", sels[0], zips, out)
			}
		})
	}
}

// TestResolveSelectsToolchain: Resolve runs a project's go commands with
// the toolchain the project selects. A project with older lines runs with
// the local go; one whose go line is newer needs its toolchain, asked for
// through the recorder from the upstream — which, here, lacks it, so
// Resolve fails naming it.
func TestResolveSelectsToolchain(t *testing.T) {
	up := testupstream.New(t)
	local := strings.Fields(goEnv(t, "GOVERSION"))[0]
	v := fromToolchain(local)
	var minor int
	if _, err := fmt.Sscanf(v, "1.%d", &minor); err != nil {
		t.Skipf("local go %q is not a release", local)
	}
	next := fmt.Sprintf("go1.%d.0", minor+1)
	write := func(gomod string) string {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"go.mod": gomod, "main.go": "package main\n\nfunc main() {}\n"})
		return dir
	}
	resolve := func(dir string) (*Result, error) {
		wd := t.TempDir()
		t.Cleanup(func() { removeAll(wd) })
		return Resolve(t.Context(), Options{
			Projects: []string{dir},
			Upstream: up.URL,
			GoEnv:    []string{"GOSUMDB=off", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB="},
			WorkDir:  wd,
			Logf:     t.Logf,
		})
	}

	res, err := resolve(write("module example.test/old\n\ngo 1.21\n\ntoolchain go1.21.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Projects[0].GoVersion; got != local {
		t.Errorf("resolved with %q, want the local %q", got, local)
	}

	_, err = resolve(write("module example.test/newer\n\ngo " + strings.TrimSuffix(next[2:], ".0") + "\n"))
	var gerr *GoCommandError
	if !errors.As(err, &gerr) || !strings.Contains(err.Error(), "selects Go toolchain "+next+" for "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Fatalf("Resolve = %v; want a *GoCommandError naming %s", err, next)
	}
	want := "/golang.org/toolchain/@v/" + ToolchainVersion(next, runtime.GOOS, runtime.GOARCH).Version + ".info"
	if !slices.Contains(up.Requests(), want) {
		t.Errorf("the upstream was not asked for %s: %v", want, up.Requests())
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
