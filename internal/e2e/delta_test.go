package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestDeltaBundle: export a project, import it, take the inventory back;
// add a dependency; export --since the inventory. The delta bundle holds
// only the new module versions, and with it the new project builds
// offline.
func TestDeltaBundle(t *testing.T) {
	slow(t)
	up := testupstream.New(t)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	env := testupstream.GoEnv(t, up.URL)
	if _, err := testupstream.RunGo(t, app, env, "mod", "tidy"); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full.tar.zst")
	mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", full, "--upstream", up.URL, app)
	store := filepath.Join(tmp, "store")
	mf(t, "import", "--pubkey", pub, "--store", store, full)
	inv := filepath.Join(tmp, "inventory.json")
	mf(t, "inventory", "--store", store, "-o", inv)
	before := readManifest(t, full)

	// A new dependency: modferry.test/major v1.0.0, which the first bundle lacks.
	gomod, _ := os.ReadFile(filepath.Join(app, "go.mod"))
	os.WriteFile(filepath.Join(app, "go.mod"), []byte(strings.Replace(string(gomod), "require (", "require (\n\tmodferry.test/major v1.0.0", 1)), 0o644)
	os.WriteFile(filepath.Join(app, "major.go"), []byte("package main\n\nimport major1 \"modferry.test/major\"\n\nvar _ = major1.Version\n"), 0o644)
	if _, err := testupstream.RunGo(t, app, env, "mod", "tidy"); err != nil {
		t.Fatal(err)
	}
	delta := filepath.Join(tmp, "delta.tar.zst")
	out := mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", delta, "--upstream", up.URL, "--since", inv, "--json", app)
	if !strings.Contains(out, `"leftOut"`) {
		t.Fatalf("export --json: %s", out)
	}
	m := readManifest(t, delta)
	var got []string
	for _, mod := range m.Modules {
		got = append(got, mod.Path+"@"+mod.Version)
	}
	if !slices.Equal(got, []string{"modferry.test/major@v1.0.0"}) {
		t.Fatalf("delta bundle holds %v, want only modferry.test/major@v1.0.0 (full bundle had %d versions)", got, len(before.Modules))
	}
	if m.BaseInventory == "" {
		t.Errorf("delta manifest does not record its base inventory")
	}
	mf(t, "import", "--pubkey", pub, "--store", store, delta)
	dir := filepath.Join(t.TempDir(), "app")
	copyDir(t, app, dir)
	offline(t, store, dir, testupstream.GoEnv(t, "http://127.0.0.1:3999"),
		`go mod download all && go build ./... && go test ./... && go mod verify`)
}
