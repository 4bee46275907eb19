package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestSplitBundle: export --split cuts the bundle into parts with a signed
// index; verify and import take the index or a part and read the parts as
// one bundle; a missing or altered part, or an edited index, is named.
func TestSplitBundle(t *testing.T) {
	up := testupstream.New(t)
	key, pub := keygen(t)
	dir := t.TempDir()
	b := filepath.Join(dir, "deps.tar.zst")
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	out := mfEnv(t, exportEnv, "export", "--sign-key", key, "--split", "4K", "--json", "-o", b, "--upstream", up.URL, app)
	var sum struct {
		PartsIndex string
		Parts      []struct{ Name string }
	}
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&sum); err != nil {
		t.Fatalf("export --json: %v\n%s", err, out)
	}
	if len(sum.Parts) < 3 || sum.PartsIndex != b+".parts" {
		t.Fatalf("want 3 or more parts and the index %s.parts: %+v", b, sum)
	}
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Errorf("the whole bundle is still there beside its parts: %v", err)
	}
	for _, f := range []string{b + ".parts", b + ".parts.minisig", b + ".001"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	mf(t, "verify", "--pubkey", pub, b+".parts")
	mf(t, "verify", "--pubkey", pub, b+".002")
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b+".001")
	entries, _ := os.ReadDir(filepath.Join(store, "uploads"))
	if len(entries) != 0 {
		t.Errorf("the joined bundle was left in uploads: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(store, "download", "modferry.test", "lib", "@v", "list")); err != nil {
		t.Fatalf("import from parts added nothing: %v", err)
	}

	// An altered part (same size) is named, not reported as a corrupt bundle.
	p2 := b + ".002"
	orig, _ := os.ReadFile(p2)
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 0x55
	os.WriteFile(p2, bad, 0o644)
	for _, verb := range [][]string{{"verify", "--pubkey", pub}, {"import", "--pubkey", pub, "--store", filepath.Join(t.TempDir(), "s")}} {
		out, err := mfErr(t, append(verb, b+".parts")...)
		if err == nil || !strings.Contains(out, "part 2 of") || !strings.Contains(out, "altered") {
			t.Errorf("%s with an altered part 2: %v\n%s", verb[0], err, out)
		}
	}
	os.WriteFile(p2, orig, 0o644)

	// A missing part.
	os.Rename(b+".003", b+".003.away")
	if out, err := mfErr(t, "verify", "--pubkey", pub, b+".parts"); err == nil || !strings.Contains(out, "deps.tar.zst.003") || !strings.Contains(out, "missing") {
		t.Errorf("verify with part 3 missing: %v\n%s", err, out)
	}
	os.Rename(b+".003.away", b+".003")

	// An edited index (a part hash changed to match an altered part) fails its signature.
	idx, _ := os.ReadFile(b + ".parts")
	os.WriteFile(b+".parts", []byte(strings.Replace(string(idx), `"formatVersion": 1`, `"formatVersion": 1 `, 1)), 0o644)
	if out, err := mfErr(t, "verify", "--pubkey", pub, b+".parts"); err == nil || !strings.Contains(out, "signature") {
		t.Errorf("verify with an edited index: %v\n%s", err, out)
	}
	os.WriteFile(b+".parts", idx, 0o644)
	os.Remove(b + ".parts.minisig")
	if out, err := mfErr(t, "verify", "--pubkey", pub, b+".parts"); err == nil || !strings.Contains(out, "no signature") {
		t.Errorf("verify with an unsigned index: %v\n%s", err, out)
	}
}
