package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestLiveVulnDB exports the real Go vulnerability database
// (golang.org/x/vulndb from the real upstream proxy) with two projects
// using golang.org/x/text v0.3.5 (GO-2021-0113) and v0.3.7 (fixed), and
// checks offline that modferry vulns and the real govulncheck report the
// first and not the second. govulncheck itself travels in the bundle as a
// module argument and is installed offline from modferry.
func TestLiveVulnDB(t *testing.T) {
	live(t)
	key, pub := keygen(t)
	src := t.TempDir()
	projects := map[string]string{"v0.3.5": filepath.Join(src, "text035"), "v0.3.7": filepath.Join(src, "text037")}
	for version, dir := range projects {
		writeFiles(t, dir, map[string]string{
			"go.mod":  "module example.test/textuser\n\ngo 1.21\n\nrequire golang.org/x/text " + version + "\n",
			"main.go": "package main\n\nimport \"golang.org/x/text/language\"\n\nfunc main() { _, _ = language.Parse(\"en\") }\n",
		})
	}
	b := filepath.Join(t.TempDir(), "vulndb.tar.zst")
	out := mfEnv(t, []string{"GOFLAGS="}, "export", "--sign-key", key, "-o", b, "--vulndb", projects["v0.3.5"], projects["v0.3.7"], "golang.org/x/vuln/cmd/govulncheck@"+govulncheckVersion)
	if !strings.Contains(out, "vulnerability database of") {
		t.Fatalf("export said %q", out)
	}
	m := readManifest(t, b)
	if m.VulnDB == nil || m.VulnDB.Entries < 4000 || !strings.HasPrefix(m.VulnDB.Source, "golang.org/x/vulndb@") {
		t.Fatalf("manifest vulndb = %+v, want the whole database", m.VulnDB)
	}
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "verify", "--pubkey", pub, b)
	mf(t, "import", "--pubkey", pub, "--store", store, b)

	_, findings := vulnsJSON(t, store)
	if got := findings["golang.org/x/text@v0.3.5"]; !strings.Contains(got, "GO-2021-0113 fixed v0.3.7;") {
		t.Errorf("vulns for golang.org/x/text v0.3.5 = %q, want GO-2021-0113 fixed in v0.3.7", got)
	}
	if got := findings["golang.org/x/text@v0.3.7"]; strings.Contains(got, "GO-2021-0113") {
		t.Errorf("vulns lists GO-2021-0113 for the fixed v0.3.7: %q", got)
	}

	for version, dir := range projects {
		env := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB=", "GONOSUMDB=", "GOPRIVATE=", sharedGoCache(t), "GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@"+govulncheckVersion)
		out := offline(t, store, dir, env, `go install "$GOVULNCHECK" && "$(go env GOPATH)/bin/govulncheck" -db http://127.0.0.1:3999/vulndb -scan module || echo "govulncheck exit $?"`)
		if got, want := strings.Contains(out, "GO-2021-0113"), version == "v0.3.5"; got != want {
			t.Errorf("govulncheck -scan module with golang.org/x/text %s: GO-2021-0113 reported %v, want %v:\n%s", version, got, want, out)
		}
		if strings.Contains(out, "govulncheck exit 1") || strings.Contains(out, "govulncheck exit 2") || !strings.Contains(out, "Module Results") && !strings.Contains(out, "No vulnerabilities found") {
			t.Errorf("govulncheck failed:\n%s", out)
		}
	}
}
