package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
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
	// A store that lost, since its inventory, a version the delta left
	// out: the import of the delta there says so, naming it.
	other := filepath.Join(tmp, "other")
	copyDir(t, store, other)
	mf(t, "delete", "--store", other, "--reason", "test", "modferry.test/dep@v1.1.0")
	if out := mf(t, "import", "--pubkey", pub, "--store", other, delta); !strings.Contains(out, "no longer holds") || !strings.Contains(out, "modferry.test/dep@v1.1.0") {
		t.Errorf("import of the delta into a store that lost a version since its inventory:\n%s", out)
	}
	// A store that never wrote the inventory: a note.
	fresh := filepath.Join(tmp, "fresh")
	if out := mf(t, "import", "--pubkey", pub, "--store", fresh, delta); !strings.Contains(out, "inventory this store did not write") {
		t.Errorf("import of the delta into another store:\n%s", out)
	}

	out = mf(t, "import", "--pubkey", pub, "--store", store, delta)
	if strings.Contains(out, "warning") || strings.Contains(out, "note:") {
		t.Errorf("import of the delta into the store its inventory came from:\n%s", out)
	}
	dir := filepath.Join(t.TempDir(), "app")
	copyDir(t, app, dir)
	offline(t, store, dir, testupstream.GoEnv(t, "http://127.0.0.1:3999"),
		`go mod download all && go build ./... && go test ./... && go mod verify`)
}

// TestDeltaCarriesMissingProofs: a store filled from a module cache
// (import --cache-dir) holds modules without their checksum-database
// lookups. Its inventory says so, and export --since carries those
// modules again with their proofs, so that a go client with GOSUMDB on
// builds offline; before, the delta left them out for good and the
// client could never verify them.
func TestDeltaCarriesMissingProofs(t *testing.T) {
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	front := sumdbFront(t, up, db)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	if _, err := testupstream.RunGo(t, app, testupstream.GoEnv(t, up.URL), "mod", "tidy"); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	inv := filepath.Join(t.TempDir(), "inventory.json")
	mf(t, "inventory", "--store", store, "-o", inv)
	if data, _ := os.ReadFile(inv); !strings.Contains(string(data), `"unproven"`) {
		t.Fatalf("the inventory of a store without proofs names no unproven module:\n%.400s", data)
	}

	delta := filepath.Join(t.TempDir(), "delta.tar.zst")
	env := append(slices.Clone(exportEnv), "GOSUMDB="+db.GOSUMDB())
	var sum struct {
		Modules  int `json:"modules"`
		Reproven int `json:"reproven"`
	}
	if err := json.Unmarshal([]byte(mfEnv(t, env, "export", "--sign-key", key, "-o", delta, "--upstream", front, "--since", inv, "--json", app)), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Reproven == 0 || sum.Modules < sum.Reproven {
		t.Fatalf("export --since: %d modules, %d carried again for their proofs; want some", sum.Modules, sum.Reproven)
	}
	mf(t, "import", "--pubkey", pub, "--store", store, delta)
	dir := filepath.Join(t.TempDir(), "app")
	copyDir(t, app, dir)
	cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=")
	out := offline(t, store, dir, cenv, "rm -f go.sum && go mod tidy && go build ./... && go mod verify")
	if !strings.Contains(out, "all modules verified") {
		t.Fatalf("offline build after the delta: no verification:\n%s", out)
	}
}
