package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modferry/internal/testupstream"
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
	dir := filepath.Join(t.TempDir(), "live")
	copyDir(t, proj, dir)
	env := testupstream.GoEnv(t, "http://127.0.0.1:3999")
	// Until the store serves checksum-database proofs, offline clients
	// check go.sum and trust the server for the rest.
	env = append(env, "GOSUMDB=sum.golang.org", "GONOSUMDB=*")
	out = offline(t, store, dir, env, `go mod download all && go build -o app . && ./app && go mod verify`)
	if !strings.Contains(out, "true 1 en") {
		t.Errorf("the offline build did not run as expected:\n%s", out)
	}
}
