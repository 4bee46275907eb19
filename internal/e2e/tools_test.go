package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestToolsOffline: two commands given as go install arguments (package
// paths at a version) whose own module graphs select different versions
// of a shared dependency, and a library module, are exported in one
// bundle from an upstream that lists pseudo-versions newer than the
// latest release and refuses a zip go install never needs. Offline, with
// the checksum database on (name and key only: every proof comes through
// modferry), go install builds each command with its own graph's version,
// and a fresh module builds against the library.
func TestToolsOffline(t *testing.T) {
	up := testupstream.New(t)
	up.Refuse("modferry.test/unneeded/@v/v1.0.0.zip")
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	key, pub := keygen(t)
	b := filepath.Join(t.TempDir(), "tools.tar.zst")
	env := []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}
	out := mfEnv(t, env, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, "--json",
		"modferry.test/toola/cmd/toola@v1.0.0", "modferry.test/toolb/cmd/toolb@latest", "modferry.test/shared@v1.1.0")
	if !strings.Contains(out, `"modferry.test/toolb/cmd/toolb@v1.0.0"`) {
		t.Errorf("export --json does not report toolb@latest resolved to v1.0.0:\n%s", out)
	}
	mf(t, "verify", "--pubkey", pub, b)
	m := readManifest(t, b)
	zips := map[string]bool{}
	for _, mod := range m.Modules {
		zips[mod.Path+"@"+mod.Version] = mod.ZipHash != ""
	}
	for _, want := range []string{"modferry.test/shared@v1.0.0", "modferry.test/shared@v1.1.0", "modferry.test/toola@v1.0.0", "modferry.test/toolb@v1.0.0"} {
		if !zips[want] {
			t.Errorf("the bundle lacks the zip of %s", want)
		}
	}
	if zips["modferry.test/unneeded@v1.0.0"] {
		t.Errorf("the bundle carries the zip of modferry.test/unneeded@v1.0.0, which go install never needs")
	}
	if m.SumDB == nil || m.SumDB.Name != db.Name {
		t.Fatalf("manifest sumdb = %+v", m.SumDB)
	}

	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	dir := t.TempDir()
	cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GOPRIVATE=", "GOBIN="+filepath.Join(dir, "bin"))
	out = offline(t, store, dir, cenv, `go install modferry.test/toola/cmd/toola@v1.0.0 &&
go install modferry.test/toolb/cmd/toolb@v1.0.0 &&
"$GOBIN/toola" && "$GOBIN/toolb" &&
mkdir lib && cd lib && go mod init example.test/lib && go get modferry.test/shared@v1.1.0 &&
printf 'package lib\n\nimport _ "modferry.test/shared"\n' >lib.go && go build ./... && go mod verify`)
	for _, want := range []string{
		"toola v1.0.0 built with modferry.test/shared@v1.0.0",
		"toolb v1.0.0 built with modferry.test/shared@v1.1.0",
		"all modules verified",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("offline output lacks %q", want)
		}
	}
}
