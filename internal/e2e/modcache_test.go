package e2e

import (
	"path/filepath"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestImportModcache: import --modcache fills a GOMODCACHE directly, with
// the checksum-database proofs where the go command's client caches them,
// so that with no server at all (GOPROXY=off) and GOSUMDB on, a fresh
// project with no go.sum downloads, builds and verifies offline.
func TestImportModcache(t *testing.T) {
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	mfEnv(t, []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, app)

	env := append(testupstream.GoEnv(t, "off"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GOPRIVATE=")
	modcache := envValue(env, "GOMODCACHE")
	mf(t, "import", "--pubkey", pub, "--modcache", modcache, b)
	dir := filepath.Join(t.TempDir(), "app")
	copyDir(t, app, dir)
	cmd := `set -e; ip link set lo up; go mod download all; go build ./...; go test ./...; go mod verify`
	out, err := runNS(dir, env, cmd)
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("GOPROXY=off build from the filled module cache failed: %v", err)
	}
}
