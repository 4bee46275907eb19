package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/testupstream"
)

// mfEnv runs modferry with extra environment and fails the test on error.
func mfEnv(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, modferryBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("modferry %s\n%s", strings.Join(args, " "), out.String())
	if err != nil {
		t.Fatalf("modferry %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// exportEnv is the environment of an export against the fixture
// upstream: the fixtures are in no checksum database.
var exportEnv = []string{"GOSUMDB=off", "GOFLAGS=", "GONOSUMDB=", "GOPRIVATE="}

func keygen(t *testing.T) (key, pub string) {
	t.Helper()
	key = filepath.Join(t.TempDir(), "ferry.key")
	mf(t, "keygen", "-o", key, "--no-passphrase")
	return key, key + ".pub"
}

// offlineScript runs a go client against a modferry server inside a
// network namespace with only loopback.
const offlineScript = `set -e
ip link set lo up
"$MODFERRY" serve --store "$STORE" --addr 127.0.0.1:3999 2>"$SERVELOG" & pid=$!
trap 'kill $pid; wait $pid' EXIT
i=0; until curl -sf -o /dev/null http://127.0.0.1:3999/healthz; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.05; done
eval "$CLIENT"
`

// offline runs the shell commands client in dir inside a loopback-only
// network namespace, against a modferry server on store.
func offline(t *testing.T, store, dir string, env []string, client string) string {
	t.Helper()
	out, err := offlineErr(t, store, dir, env, client)
	if err != nil {
		t.Fatalf("offline client failed: %v\n%s", err, out)
	}
	return out
}

// offlineErr is offline returning the error instead of failing.
func offlineErr(t *testing.T, store, dir string, env []string, client string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed to prove offline use: %v", err)
	}
	cmd := exec.Command("unshare", "-n", "sh", "-c", offlineScript)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(env), "MODFERRY="+modferryBin, "STORE="+store, "CLIENT="+client, "SERVELOG="+filepath.Join(t.TempDir(), "serve.log"))
	out, err := cmd.CombinedOutput()
	t.Logf("offline in %s: %s\n%s", dir, client, out)
	return string(out), err
}

// TestBundleOffline: export a pool of two projects (one a go.work
// workspace) and module@version arguments from the fixture upstream,
// verify it, import it into an empty store inside a loopback-only
// namespace, serve it there, and build, test, verify and tidy each
// project with a fresh go client.
func TestBundleOffline(t *testing.T) {
	up := testupstream.New(t)
	key, pub := keygen(t)
	src := t.TempDir()
	app, work := filepath.Join(src, "app"), filepath.Join(src, "work")
	testupstream.WriteProject(t, "app", app)
	testupstream.WriteProject(t, "work", work)
	// Give the projects their go.sum, as real projects have.
	env := testupstream.GoEnv(t, up.URL)
	if _, err := testupstream.RunGo(t, app, env, "mod", "tidy"); err != nil {
		t.Fatal(err)
	}
	wenv := append(env, "GOFLAGS=")
	if _, err := testupstream.RunGo(t, work, wenv, "mod", "download"); err != nil {
		t.Fatal(err)
	}
	goModBefore, _ := os.ReadFile(filepath.Join(app, "go.mod"))

	b := filepath.Join(t.TempDir(), "pool.tar.zst")
	out := mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", b, "--upstream", up.URL,
		app, work, "modferry.test/retract@v1.2.0", "modferry.test/lib@latest")
	if !strings.Contains(out, "wrote signed bundle") {
		t.Fatalf("export said %q", out)
	}
	if after, _ := os.ReadFile(filepath.Join(app, "go.mod")); !bytes.Equal(after, goModBefore) {
		t.Fatalf("export modified the project's go.mod")
	}
	mf(t, "verify", "--pubkey", pub, b)

	// The manifest lists each module version once, and the go.mod-only
	// version (dep v1.0.0, required by lib v1.0.0) without a zip.
	m := readManifest(t, b)
	seen := map[string]bool{}
	for _, mod := range m.Modules {
		k := mod.Path + "@" + mod.Version
		if seen[k] {
			t.Errorf("%s listed twice", k)
		}
		seen[k] = true
		if k == "modferry.test/dep@v1.0.0" && mod.ZipHash != "" {
			t.Errorf("dep@v1.0.0 is needed only for its go.mod, but the bundle carries its zip")
		}
	}
	for _, want := range []string{"modferry.test/dep@v1.0.0", "modferry.test/retract@v1.2.0", "modferry.test/major/v2@v2.1.0", "modferry.test/nest/inner@v1.0.0"} {
		if !seen[want] {
			t.Errorf("bundle lacks %s", want)
		}
	}

	store := filepath.Join(t.TempDir(), "store")
	// Import inside the namespace too: nothing reaches the network.
	imp := exec.Command("unshare", "-n", modferryBin, "import", "--pubkey", pub, "--store", store, b)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("offline import: %v\n%s", err, out)
	}

	for _, p := range []struct {
		name, dir, client string
		genv              []string
	}{
		{"app", app, `go mod download all && go build ./... && go test ./... && go mod verify && go list -m all && go mod tidy`, nil},
		{"work", work, `go mod download && go build ./a/... ./b/... && go test ./a/... ./b/... && go mod verify && go list -m all && (cd a && GOWORK=off GOFLAGS=-mod=mod go list -m all >/dev/null; true)`, []string{"GOFLAGS="}},
	} {
		t.Run(p.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), p.name)
			copyDir(t, p.dir, dir)
			cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), p.genv...)
			offline(t, store, dir, cenv, p.client)
			for _, f := range []string{"go.mod", "go.sum"} {
				before, _ := os.ReadFile(filepath.Join(p.dir, f))
				after, _ := os.ReadFile(filepath.Join(dir, f))
				if !bytes.Equal(before, after) {
					t.Errorf("%s changed offline (go mod tidy must leave it unchanged):\nbefore:\n%s\nafter:\n%s", f, before, after)
				}
			}
		})
	}
	// The module@version arguments work as if a project required them.
	t.Run("args", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.test/user\n\ngo 1.21\n"), 0o644)
		offline(t, store, dir, testupstream.GoEnv(t, "http://127.0.0.1:3999"),
			`go get modferry.test/retract@v1.2.0 modferry.test/lib@v1.2.0 && go mod download all && go list -deps -test modferry.test/lib/... >/dev/null`)
	})
}

func readManifest(t *testing.T, file string) *bundle.Manifest {
	t.Helper()
	out, err := exec.Command("tar", "--zstd", "-xOf", file, "MANIFEST.json").Output()
	if err != nil {
		t.Fatalf("tar --zstd -xOf %s MANIFEST.json: %v", file, err)
	}
	var m bundle.Manifest
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
}

// TestMinisignVerifiesBundle: the stock minisign tool accepts the
// manifest signature of a bundle modferry wrote.
func TestMinisignVerifiesBundle(t *testing.T) {
	if _, err := exec.LookPath("minisign"); err != nil {
		t.Fatalf("the stock minisign tool is needed (apt-get install minisign): %v", err)
	}
	up := testupstream.New(t)
	key, pub := keygen(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, "modferry.test/lib@v1.2.0")
	dir := t.TempDir()
	if out, err := exec.Command("tar", "--zstd", "-xf", b, "-C", dir, "MANIFEST.json", "MANIFEST.json.minisig").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	out, err := exec.Command("minisign", "-Vm", filepath.Join(dir, "MANIFEST.json"), "-p", pub).CombinedOutput()
	if err != nil {
		t.Fatalf("minisign -V rejected the bundle signature: %v\n%s", err, out)
	}
	// And rejects it once the manifest changes.
	mpath := filepath.Join(dir, "MANIFEST.json")
	data, _ := os.ReadFile(mpath)
	os.WriteFile(mpath, bytes.Replace(data, []byte("modferry.test/lib"), []byte("modferry.test/lib2"), 1), 0o644)
	if out, err := exec.Command("minisign", "-Vm", mpath, "-p", pub).CombinedOutput(); err == nil {
		t.Fatalf("minisign accepted an edited manifest:\n%s", out)
	}
}

// runNS runs a shell script in a loopback-only network namespace.
func runNS(dir string, env []string, script string) (string, error) {
	cmd := exec.Command("unshare", "-n", "sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}
