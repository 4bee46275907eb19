package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/buildinfo"
	"github.com/modferry/modferry/internal/testupstream"
)

const modulePath = "github.com/modferry/modferry"

// repoRoot is the root of this module's source tree.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestModulePath: the module has a dotted path, so that go install works
// from it, and TestMain's 'go build github.com/modferry/modferry/cmd/modferry'
// built the binary every e2e test runs.
func TestModulePath(t *testing.T) {
	cmd := exec.Command("go", "list", "-m")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != modulePath {
		t.Errorf("go list -m = %q, want %q", got, modulePath)
	}
	stdout, _, code := mfRun(t, nil, "version", "--json")
	var bi buildinfo.Info
	if err := json.Unmarshal([]byte(stdout), &bi); code != 0 || err != nil {
		t.Fatalf("version --json: exit %d, %v", code, err)
	}
	if bi.Path != modulePath || bi.GoVersion == "" || bi.Version == "" {
		t.Errorf("version --json = %+v, want path %s, a version and a Go version", bi, modulePath)
	}
}

// TestGoInstall: 'go install github.com/modferry/modferry/cmd/modferry@VERSION'
// works, from a GOPROXY serving the committed source as a module version,
// and the installed binary reports that version.
func TestGoInstall(t *testing.T) {
	slow(t)
	const version = "v0.99.0"
	proxy := t.TempDir()
	dir := filepath.Join(proxy, modulePath, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	// The committed tree, as a VCS host would serve the tag.
	src := t.TempDir()
	archive := exec.Command("sh", "-c", `git -C "$1" archive HEAD | tar -x -C "$2"`, "sh", repoRoot(t), src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	if err := modzip.CreateFromDir(zf, module.Version{Path: modulePath, Version: version}, src); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	gomod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, version+".mod"), gomod, 0o644)
	os.WriteFile(filepath.Join(dir, version+".info"), []byte(`{"Version":"`+version+`","Time":"2026-11-30T00:00:00Z"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "list"), []byte(version+"\n"), 0o644)

	// Dependencies come from the module cache that built this test.
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	gobin := t.TempDir()
	env := append(testupstream.GoEnv(t, "file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(deps)),
		"GOFLAGS=-trimpath", "GOBIN="+gobin, sharedGoCache(t))
	if out, err := testupstream.RunGo(t, t.TempDir(), env, "install", modulePath+"/cmd/modferry@"+version); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	got, err := exec.Command(filepath.Join(gobin, "modferry"), "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var bi buildinfo.Info
	if err := json.Unmarshal(got, &bi); err != nil {
		t.Fatal(err)
	}
	if bi.Version != version || bi.Path != modulePath {
		t.Errorf("installed modferry reports %+v, want version %s of %s", bi, version, modulePath)
	}
}
