package e2e

import (
	"os"
	"path/filepath"
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

// TestLiveToolchain: a project asking for toolchain go1.27.3 is exported
// with that toolchain (added by default), and offline a go1.26 client with
// GOTOOLCHAIN=auto and the default GOSUMDB switches to it.
func TestLiveToolchain(t *testing.T) {
	live(t)
	slow(t)
	key, pub := keygen(t)
	proj := filepath.Join(t.TempDir(), "tc")
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "go.mod"), []byte("module example.test/tc\n\ngo 1.26.0\n\ntoolchain go1.27.3\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	b := filepath.Join(t.TempDir(), "tc.tar.zst")
	mfEnv(t, []string{"GOFLAGS="}, "export", "--sign-key", key, "-o", b, proj)
	m := readManifest(t, b)
	found := false
	for _, mod := range m.Modules {
		found = found || strings.HasPrefix(mod.Version, "v0.0.1-go1.27.3.") && mod.Path == "golang.org/toolchain"
	}
	if !found {
		t.Fatalf("the bundle lacks the go1.27.3 toolchain: %+v", m.Modules)
	}
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	dir := filepath.Join(t.TempDir(), "tc")
	copyDir(t, proj, dir)
	env := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB=", "GONOSUMDB=", "GOPRIVATE=", "GOTOOLCHAIN=auto")
	out := offline(t, store, dir, env, `go version`)
	if !strings.Contains(out, "go version go1.27.3") {
		t.Fatalf("offline, GOTOOLCHAIN=auto did not switch to go1.27.3:\n%s", out)
	}
}
