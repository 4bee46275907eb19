package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// sumdbFront serves the test upstream with the checksum database db
// under /sumdb/<name>/, as proxy.golang.org serves sum.golang.org.
func sumdbFront(t *testing.T, up *testupstream.Upstream, db *checksumdbtest.DB) string {
	t.Helper()
	target, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+db.Name+"/"); ok {
			if rest == "supported" {
				return
			}
			r.URL.Path = "/" + rest
			rp.ServeHTTP(w, r)
			return
		}
		up.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFillThroughSnapshot is the CI-snapshot workflow: a go client builds
// through `serve --upstream` (a fill-through proxy verifying every module
// against the checksum database), `export --from-store` bundles what it
// fetched, and a fresh store that imports the bundle serves a go client
// building the same project offline, GOSUMDB on; an export --since that
// store's inventory then leaves everything out.
func TestFillThroughSnapshot(t *testing.T) {
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	front := sumdbFront(t, up, db)
	key, pub := keygen(t)

	team := filepath.Join(t.TempDir(), "team")
	proxyURL := serve(t, team, "--upstream", front, "--upstream-sumdb", db.Key)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	ci := filepath.Join(t.TempDir(), "ci")
	copyDir(t, app, ci)
	cienv := append(testupstream.GoEnv(t, proxyURL), "GOSUMDB="+db.Key, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=", "GOINSECURE=")
	// CI builds and verifies (go mod verify reads the go.mod files of the
	// whole module graph): the snapshot carries what these fetched.
	for _, args := range [][]string{{"build", "./..."}, {"mod", "verify"}} {
		if _, err := testupstream.RunGo(t, ci, cienv, args...); err != nil {
			t.Fatalf("CI through the fill-through proxy: %v", err)
		}
	}

	b := filepath.Join(t.TempDir(), "snapshot.tar.zst")
	mf(t, "export", "--from-store", team, "--sign-key", key, "-o", b)
	if out := mf(t, "verify", "--pubkey", pub, b); !strings.HasPrefix(out, "OK ") {
		t.Fatalf("verify: %s", out)
	}
	m := readManifest(t, b)
	if m.SumDB == nil || m.SumDB.Name != db.Name || len(m.SumDB.NotCovered) != 0 {
		t.Fatalf("manifest sumdb = %+v; want every module covered by %s", m.SumDB, db.Name)
	}
	if len(m.Modules) == 0 {
		t.Fatal("the snapshot carries no modules")
	}

	isolated := filepath.Join(t.TempDir(), "isolated")
	mf(t, "import", "--pubkey", pub, "--store", isolated, b)
	dir := filepath.Join(t.TempDir(), "app")
	copyDir(t, app, dir)
	cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=")
	out := offline(t, isolated, dir, cenv, "go build ./... && go mod verify && cat go.sum")
	if !strings.Contains(out, "all modules verified") || !strings.Contains(out, "modferry.test/dep v1.1.0 h1:") {
		t.Fatalf("offline build from the snapshot: no verification:\n%s", out)
	}

	inv := filepath.Join(t.TempDir(), "inventory.json")
	mf(t, "inventory", "--store", isolated, "-o", inv)
	b2 := filepath.Join(t.TempDir(), "delta.tar.zst")
	var sum struct {
		Modules int `json:"modules"`
		LeftOut int `json:"leftOut"`
	}
	if err := json.Unmarshal([]byte(mf(t, "export", "--from-store", team, "--since", inv, "--sign-key", key, "-o", b2, "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Modules != 0 || sum.LeftOut != len(m.Modules) {
		t.Errorf("export --since the imported inventory: %d modules, %d left out; want 0 and %d", sum.Modules, sum.LeftOut, len(m.Modules))
	}
}
