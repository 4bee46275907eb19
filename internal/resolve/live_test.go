package resolve

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
)

// liveProject is a small real project.
var liveProject = map[string]string{
	"go.mod": `module example.com/live

go 1.22

require (
	github.com/BurntSushi/toml v1.4.0
	github.com/google/uuid v1.6.0
	golang.org/x/text v0.21.0
)
`,
	"main.go": `package main

import (
	"fmt"

	"github.com/BurntSushi/toml"
	"github.com/google/uuid"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

func main() {
	var v struct{ Name string }
	toml.Decode("Name = 'x'", &v)
	fmt.Println(uuid.New(), cases.Title(language.English).String(v.Name))
}
`,
	"main_test.go": `package main

import "testing"

func TestMain(t *testing.T) {}
`,
}

func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLiveResolve resolves a small real project and two module arguments
// against the real upstream proxy, then proves the result complete
// offline. It runs only with MODFERRY_LIVE=1, and then fails (never skips)
// when the upstream is unreachable.
func TestLiveResolve(t *testing.T) {
	if os.Getenv("MODFERRY_LIVE") != "1" {
		t.Skip("set MODFERRY_LIVE=1 to run against the real upstream proxy")
	}
	proj := filepath.Join(t.TempDir(), "live")
	writeTree(t, proj, liveProject)
	work := t.TempDir()
	t.Cleanup(func() { removeAll(work) })
	start := time.Now()
	res, err := Resolve(context.Background(), Options{
		Projects: []string{proj},
		Modules:  []module.Version{{Path: "golang.org/x/sync", Version: "v0.10.0"}, {Path: "github.com/google/go-cmp", Version: "latest"}},
		Upstream: envOr("MODFERRY_LIVE_GOPROXY", ""), // "": the go env GOPROXY
		WorkDir:  work,
		Logf:     t.Logf,
	})
	if err != nil {
		t.Fatalf("live resolve (is the upstream proxy reachable?): %v", err)
	}
	t.Logf("resolved in %v", time.Since(start))
	logResult(t, res)
	proxy := serveOnly(t, res)
	proveProject(t, res, proxy, proj)
	proveModules(t, res, proxy)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func logResult(t *testing.T, res *Result) {
	t.Helper()
	n := map[modfiles.Kind]int{}
	var size int64
	for _, f := range res.Files {
		n[f.Kind]++
		size += f.Size
	}
	t.Logf("files: %d info, %d mod, %d zip, %d bytes; modules %v", n[modfiles.Info], n[modfiles.Mod], n[modfiles.Zip], size, res.Modules)
	for _, c := range res.Requests {
		if c.Info+c.Mod+c.Zip > 0 {
			t.Logf("  %-10s go %-40s info=%d mod=%d zip=%d", filepath.Base(c.Project), c.Command, c.Info, c.Mod, c.Zip)
		}
	}
}
