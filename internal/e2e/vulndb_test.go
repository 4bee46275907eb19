package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/memzip"
	"github.com/modferry/modferry/internal/testupstream"
)

// govulncheckVersion is the govulncheck the offline tests build.
const govulncheckVersion = "v1.9.0"

// buildGovulncheck builds golang.org/x/vuln/cmd/govulncheck with the
// user's go settings (module cache and proxy) and returns the binary.
func buildGovulncheck(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "install", "golang.org/x/vuln/cmd/govulncheck@"+govulncheckVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building govulncheck: %v\n%s", err, out)
	}
	return filepath.Join(bin, "govulncheck")
}

// writeLibUser writes a main module requiring modferry.test/lib at version.
func writeLibUser(t *testing.T, dir, version string) {
	t.Helper()
	writeFiles(t, dir, map[string]string{
		"go.mod":  "module example.test/libuser\n\ngo 1.21\n\nrequire modferry.test/lib " + version + "\n",
		"main.go": "package main\n\nimport \"modferry.test/lib\"\n\nfunc main() { println(lib.Version()) }\n",
	})
}

// vulnsJSON runs modferry vulns --json on store.
func vulnsJSON(t *testing.T, store string) (modified string, findings map[string]string) {
	t.Helper()
	out, _, code := mfRunIn(t, "", os.Environ(), "vulns", "--store", store, "--json")
	if code != 0 {
		t.Fatalf("vulns exited %d", code)
	}
	checkJSONContract(t, "vulns --json", out)
	var v struct {
		Database struct{ Modified string }
		Findings []struct{ Module, Version, ID, Fixed string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	findings = map[string]string{}
	for _, f := range v.Findings {
		findings[f.Module+"@"+f.Version] += f.ID + " fixed " + f.Fixed + ";"
	}
	return v.Database.Modified, findings
}

// TestVulnDB: export --vulndb converts the fixture upstream's synthetic
// vulnerability database module into the bundle, verify and import
// accept it, modferry vulns lists the stored version it affects, an older
// database never replaces a newer one, and (with MODFERRY_SLOW=1) the
// real govulncheck, offline against modferry serve, reports the
// vulnerable version and not the fixed one.
func TestVulnDB(t *testing.T) {
	up := testupstream.New(t)
	key, pub := keygen(t)
	src := t.TempDir()
	vulnerable, fixed := filepath.Join(src, "vulnerable"), filepath.Join(src, "fixed")
	writeLibUser(t, vulnerable, "v1.1.0")
	writeLibUser(t, fixed, "v1.2.0")
	env := testupstream.GoEnv(t, up.URL)
	for _, dir := range []string{vulnerable, fixed} {
		if out, err := testupstream.RunGo(t, dir, env, "mod", "tidy"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}

	b := filepath.Join(t.TempDir(), "vuln.tar.zst")
	out := mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", b, "--upstream", up.URL,
		"--vulndb-module", "modferry.test/vulndb", vulnerable, fixed)
	if !strings.Contains(out, "vulnerability database of 2 entries from modferry.test/vulndb@v0.0.0-20240701000000-cccccccccccc") {
		t.Errorf("export did not pick the newest pseudo-version of the database: %q", out)
	}
	m := readManifest(t, b)
	if m.VulnDB == nil || m.VulnDB.Entries != 2 {
		t.Fatalf("manifest vulndb = %+v", m.VulnDB)
	}
	mf(t, "verify", "--pubkey", pub, b)
	store := filepath.Join(t.TempDir(), "store")
	if out := mf(t, "import", "--pubkey", pub, "--store", store, b); !strings.Contains(out, "vulnerability database of 2024-07-01T00:00:00Z installed") {
		t.Errorf("import said %q", out)
	}
	modified, findings := vulnsJSON(t, store)
	if modified != "2024-07-01T00:00:00Z" {
		t.Errorf("database modified %s", modified)
	}
	if got := findings["modferry.test/lib@v1.1.0"]; got != "GO-2099-0001 fixed v1.2.0;" {
		t.Errorf("vulns for lib v1.1.0 = %q", got)
	}
	if got, ok := findings["modferry.test/lib@v1.2.0"]; ok {
		t.Errorf("vulns lists the fixed lib v1.2.0: %q", got)
	}
	if out := mf(t, "vulns", "--store", store); !strings.Contains(out, "modferry.test/lib") || !strings.Contains(out, "GO-2099-0001") {
		t.Errorf("vulns table:\n%s", out)
	}

	// An older database, in a later bundle, does not replace it.
	old := filepath.Join(t.TempDir(), "old.tar.zst")
	mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", old, "--upstream", up.URL,
		"--vulndb-module", "modferry.test/vulndb@v0.0.0-20240601000000-aaaaaaaaaaaa")
	if out := mf(t, "import", "--pubkey", pub, "--store", store, old); !strings.Contains(out, "kept out") {
		t.Errorf("import of an older database said %q", out)
	}
	if modified, _ := vulnsJSON(t, store); modified != "2024-07-01T00:00:00Z" {
		t.Errorf("after importing an older database: modified %s", modified)
	}

	// The metadata API marks the affected version.
	url := serve(t, store)
	for version, want := range map[string]bool{"v1.1.0": true, "v1.2.0": false} {
		resp, err := http.Get(url + "/api/v1/modules/modferry.test/lib/@v/" + version)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var info struct {
			Version         string
			Vulnerabilities []struct{ ID, Fixed string }
		}
		json.Unmarshal(body, &info)
		got := len(info.Vulnerabilities) == 1 && info.Vulnerabilities[0].ID == "GO-2099-0001" && info.Vulnerabilities[0].Fixed == "v1.2.0"
		if resp.StatusCode != 200 || info.Version != version || got != want || !want && len(info.Vulnerabilities) > 0 {
			t.Errorf("API for lib %s: %d %s; want GO-2099-0001 marked: %v", version, resp.StatusCode, body, want)
		}
	}

	if os.Getenv("MODFERRY_SLOW") != "1" {
		t.Log("skipping the govulncheck part: set MODFERRY_SLOW=1")
		return
	}
	gvc := buildGovulncheck(t)
	for _, p := range []struct {
		dir        string
		vulnerable bool
	}{{vulnerable, true}, {fixed, false}} {
		cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOVULNCHECK="+gvc)
		out := offline(t, store, p.dir, cenv, `"$GOVULNCHECK" -db http://127.0.0.1:3999/vulndb -scan module || echo "govulncheck exit $?"`)
		reported := strings.Contains(out, "GO-2099-0001")
		if reported != p.vulnerable || strings.Contains(out, "govulncheck exit 3") != p.vulnerable {
			t.Errorf("govulncheck -scan module in %s (vulnerable %v):\n%s", filepath.Base(p.dir), p.vulnerable, out)
		}
		if strings.Contains(out, "govulncheck exit 1") || strings.Contains(out, "govulncheck exit 2") {
			t.Errorf("govulncheck failed:\n%s", out)
		}
	}
	// The default symbol scan finds the call of the vulnerable function.
	cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOVULNCHECK="+gvc)
	out = offline(t, store, vulnerable, cenv, `"$GOVULNCHECK" -db http://127.0.0.1:3999/vulndb ./... || echo "govulncheck exit $?"`)
	if !strings.Contains(out, "GO-2099-0001") || !strings.Contains(out, "lib.Version") || !strings.Contains(out, "govulncheck exit 3") {
		t.Errorf("govulncheck ./... did not report the call of lib.Version:\n%s", out)
	}
}

// TestVulnDBChecksum: export --vulndb checks the database module's zip
// against the checksum database, and refuses a zip that differs from the
// one the database recorded.
func TestVulnDBChecksum(t *testing.T) {
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 10)
	key, _ := keygen(t)
	env := []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}
	const version = "v0.0.0-20240701000000-cccccccccccc"
	b := filepath.Join(t.TempDir(), "v.tar.zst")
	mfEnv(t, env, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, "--vulndb-module", "modferry.test/vulndb@"+version)

	// The upstream now serves another zip for the same version.
	v := module.Version{Path: "modferry.test/vulndb", Version: version}
	data, err := memzip.Bytes(v, map[string][]byte{
		"go.mod":                     []byte("module modferry.test/vulndb\n\ngo 1.21\n"),
		"data/osv/GO-2099-0001.json": []byte(`{"id":"GO-2099-0001","modified":"2024-07-01T00:00:00Z","affected":[]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(up.Dir, "modferry.test", "vulndb", "@v", version+".zip"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := mfRunIn(t, "", append(os.Environ(), env...), "export", "--sign-key", key, "-o", b+"2", "--upstream", up.URL, "--vulndb-module", "modferry.test/vulndb@"+version)
	if code == 0 || !strings.Contains(stderr, "SECURITY ERROR") {
		t.Errorf("export of a tampered vulnerability database: exit %d, %s", code, stderr)
	}
}
