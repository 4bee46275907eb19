package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/testupstream"
)

// live marks a test that needs the real upstream module proxy. It runs
// only with MODFERRY_LIVE=1 (set by .ci/run), and then fails loudly if
// the upstream is unreachable.
func live(t *testing.T) {
	t.Helper()
	if os.Getenv("MODFERRY_LIVE") != "1" {
		t.Skip("live test against the real upstream proxy: set MODFERRY_LIVE=1 (as .ci/run does)")
	}
}

// TestLiveExportImportBuild exports a small real project from the real
// upstream proxy, imports the bundle inside a loopback-only namespace, and
// builds the project there with a fresh go client.
func TestLiveExportImportBuild(t *testing.T) {
	live(t)
	key, pub := keygen(t)
	proj := filepath.Join(t.TempDir(), "live")
	copyDir(t, "testdata/live", proj)
	b := filepath.Join(t.TempDir(), "live.tar.zst")
	// The user's own environment: default GOPROXY and GOSUMDB.
	out := mfEnv(t, []string{"GOFLAGS="}, "export", "--sign-key", key, "-o", b, "--json", proj)
	if !strings.Contains(out, `"modules"`) {
		t.Fatalf("export --json: %s", out)
	}
	m := readManifest(t, b)
	for _, want := range []string{"github.com/google/uuid@v1.6.0", "github.com/BurntSushi/toml@v1.4.0", "golang.org/x/text@v0.21.0"} {
		found := false
		for _, mod := range m.Modules {
			found = found || mod.Path+"@"+mod.Version == want
		}
		if !found {
			t.Errorf("the bundle lacks %s", want)
		}
	}
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	if m.SumDB == nil || m.SumDB.Name != "sum.golang.org" {
		t.Fatalf("the bundle carries no proofs from sum.golang.org: %+v", m.SumDB)
	}
	dir := filepath.Join(t.TempDir(), "live")
	copyDir(t, proj, dir)
	// A fresh client with GOSUMDB at its default and no go.sum at all:
	// every module is checked against the public checksum database,
	// whose proofs come through modferry.
	os.Remove(filepath.Join(dir, "go.sum"))
	env := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB=", "GONOSUMDB=", "GOPRIVATE=")
	out = offline(t, store, dir, env, `go mod download all && go build -o app . && ./app && go mod verify && grep -c h1: go.sum`)
	if !strings.Contains(out, "true 1 en") || !strings.Contains(out, "all modules verified") {
		t.Errorf("the offline build did not run as expected:\n%s", out)
	}
}

// TestLiveToolDirective: a project that runs a tool through a go.mod tool
// directive (Go 1.24: "go get -tool", "go tool NAME", go:generate lines
// that call it). The bundle must hold what building the tool needs, not
// only the project's own packages: offline, go generate builds and runs
// stringer, and go build tool, go mod verify and go mod tidy work.
func TestLiveToolDirective(t *testing.T) {
	live(t)
	key, pub := keygen(t)
	proj := filepath.Join(t.TempDir(), "livetool")
	copyDir(t, "testdata/livetool", proj)
	b := filepath.Join(t.TempDir(), "livetool.tar.zst")
	mfEnv(t, []string{"GOFLAGS="}, "export", "--sign-key", key, "-o", b, proj)
	m := readManifest(t, b)
	found := false
	for _, mod := range m.Modules {
		found = found || mod.Path == "golang.org/x/tools" && mod.Version == "v0.39.0" && mod.ZipHash != ""
	}
	if !found {
		t.Fatalf("the bundle lacks the tool's module golang.org/x/tools@v0.39.0 with its zip")
	}
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	dir := filepath.Join(t.TempDir(), "livetool")
	copyDir(t, proj, dir)
	env := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB=", "GONOSUMDB=", "GOPRIVATE=")
	out := offline(t, store, dir, env, `go generate ./... && test -s color_string.go && go run . &&
go build tool && go mod verify && cp go.mod go.mod.before && go mod tidy && cmp go.mod go.mod.before && echo tidy unchanged`)
	for _, want := range []string{"Green", "all modules verified", "tidy unchanged"} {
		if !strings.Contains(out, want) {
			t.Errorf("offline output lacks %q", want)
		}
	}
}

// TestLiveToolchain: projects that need a newer Go than the one exporting
// (go1.26) export with the toolchain each selects, as GOTOOLCHAIN=auto does
// online — a go.mod with a bare go line (go 1.27: go1.27.0), one with go
// and toolchain lines (go1.27.3), a go.work whose go line is newer than its
// module's — in one bundle, so each toolchain zip (~75 MB) is fetched once.
// Offline, a go1.26 client with GOTOOLCHAIN=auto and the default GOSUMDB
// downloads, builds, tests and verifies each project, its binary reports
// the selected toolchain, and the server lists the carried toolchains so
// that go get go@1.27 picks the newest of them.
func TestLiveToolchain(t *testing.T) {
	live(t)
	slow(t)
	key, pub := keygen(t)
	src := t.TempDir()
	const (
		uuidSum = "github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n" +
			"github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n"
		mainGo = "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n\n\t\"github.com/google/uuid\"\n)\n\n" +
			"func main() { fmt.Println(\"running\", runtime.Version(), len(uuid.NewString())) }\n"
		testGo = "package main\n\nimport \"testing\"\n\nfunc TestMain(t *testing.T) { main() }\n"
	)
	write := func(dir, gomod string) {
		t.Helper()
		os.MkdirAll(dir, 0o755)
		for name, content := range map[string]string{"go.mod": gomod, "go.sum": uuidSum, "main.go": mainGo, "main_test.go": testGo} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	req := "\nrequire github.com/google/uuid v1.6.0\n"
	write(filepath.Join(src, "goline"), "module example.test/goline\n\ngo 1.27\n"+req)
	write(filepath.Join(src, "toolchain"), "module example.test/toolchain\n\ngo 1.27\n\ntoolchain go1.27.3\n"+req)
	write(filepath.Join(src, "work", "app"), "module example.test/app\n\ngo 1.26.0\n"+req)
	os.WriteFile(filepath.Join(src, "work", "go.work"), []byte("go 1.27\n\nuse ./app\n"), 0o644)

	b := filepath.Join(t.TempDir(), "tc.tar.zst")
	// The exporting user's go never switches by itself (GOTOOLCHAIN=local,
	// as in the issue); GOPROXY and GOSUMDB are the defaults.
	out := mfEnv(t, []string{"GOFLAGS=", "GOTOOLCHAIN=local"}, "export", "--sign-key", key, "-o", b, "--json",
		filepath.Join(src, "goline"), filepath.Join(src, "toolchain"), filepath.Join(src, "work"))
	plat := runtime.GOOS + "-" + runtime.GOARCH
	if want := fmt.Sprintf(`"toolchains": [
    "go1.27.0.%s",
    "go1.27.3.%s"
  ]`, plat, plat); !strings.Contains(out, want) {
		t.Errorf("export --json does not list the two selected toolchains, want %s", want)
	}
	m := readManifest(t, b)
	var tcs []string
	for _, mod := range m.Modules {
		if mod.Path == "golang.org/toolchain" {
			tcs = append(tcs, mod.Version)
		}
	}
	if want := fmt.Sprintf("[v0.0.1-go1.27.0.%s v0.0.1-go1.27.3.%s]", plat, plat); fmt.Sprint(tcs) != want {
		t.Fatalf("bundled toolchains %v, want %s", tcs, want)
	}
	if m.SumDB == nil || m.SumDB.Name != "sum.golang.org" || len(m.SumDB.NotCovered) != 0 {
		t.Fatalf("the bundle does not prove every module, toolchains included, against sum.golang.org: %+v", m.SumDB)
	}
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)

	dir := filepath.Join(t.TempDir(), "src")
	copyDir(t, src, dir)
	// No go.sum in the module projects: every module is checked against
	// the checksum database through modferry. The workspace keeps its
	// go.sum (without -mod=mod it cannot add to it).
	os.Remove(filepath.Join(dir, "goline", "go.sum"))
	os.Remove(filepath.Join(dir, "toolchain", "go.sum"))
	env := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB=", "GONOSUMDB=", "GOPRIVATE=", "GOTOOLCHAIN=auto")
	out = offline(t, store, dir, env, `
check() { go mod download all && go build -o app . && ./app && go test ./... && go mod verify; }
(cd goline && check)
(cd toolchain && check)
(cd work/app && GOFLAGS= check)
curl -sf http://127.0.0.1:3999/golang.org/toolchain/@v/list
mkdir scratch && cd scratch && printf 'module example.test/scratch\n\ngo 1.26.0\n' >go.mod
go get go@1.27 && go version`)
	for _, want := range []string{
		"running go1.27.0 36", "running go1.27.3 36",
		"ok  \texample.test/goline", "ok  \texample.test/toolchain", "ok  \texample.test/app",
		"v0.0.1-go1.27.0." + plat + "\nv0.0.1-go1.27.3." + plat + "\n",
		"go version go1.27.3 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("offline output lacks %q", want)
		}
	}
	if n := strings.Count(out, "running go1.27.0 36"); n != 2 {
		t.Errorf("go1.27.0 built %d of the go.mod and go.work projects, want 2", n)
	}
	if n := strings.Count(out, "all modules verified"); n != 3 {
		t.Errorf("go mod verify passed %d times, want 3", n)
	}
}

// TestLiveTools exports two real commands given as go install arguments
// (package paths at a version: a small graph and a bigger one) and a
// library module whose upstream version list may hold a pseudo-version
// newer than its latest release, in one bundle. Offline, with GOSUMDB at
// its default, go install builds each command and it prints its version.
func TestLiveTools(t *testing.T) {
	live(t)
	key, pub := keygen(t)
	b := filepath.Join(t.TempDir(), "tools.tar.zst")
	mfEnv(t, []string{"GOFLAGS="}, "export", "--sign-key", key, "-o", b,
		"honnef.co/go/tools/cmd/staticcheck@v0.8.2", "github.com/go-delve/delve/cmd/dlv@v1.27.2", "github.com/google/uuid@v1.6.0")
	m := readManifest(t, b)
	if m.SumDB == nil || m.SumDB.Name != "sum.golang.org" {
		t.Fatalf("the bundle carries no proofs from sum.golang.org: %+v", m.SumDB)
	}
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	dir := t.TempDir()
	env := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB=", "GONOSUMDB=", "GOPRIVATE=", "GOBIN="+filepath.Join(dir, "bin"))
	out := offline(t, store, dir, env, `go install honnef.co/go/tools/cmd/staticcheck@v0.8.2 &&
go install github.com/go-delve/delve/cmd/dlv@v1.27.2 &&
"$GOBIN/staticcheck" -version && "$GOBIN/dlv" version &&
mkdir lib && cd lib && go mod init example.test/lib && go get github.com/google/uuid@v1.6.0 &&
printf 'package lib\n\nimport _ "github.com/google/uuid"\n' >lib.go && go build ./... && go mod verify`)
	for _, want := range []string{"staticcheck 2026.2.2 (0.8.2)", "Version: 1.27.2", "all modules verified"} {
		if !strings.Contains(out, want) {
			t.Errorf("offline output lacks %q", want)
		}
	}
}
