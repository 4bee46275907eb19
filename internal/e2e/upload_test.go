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

	"github.com/modferry/modferry/internal/bundle/bundletest"
)

// TestImportOverHTTP: import --server uploads a bundle that the server
// verifies with its --pubkey keys and imports; a read token is refused,
// a bundle signed by another key is refused with the reason, and the
// import is in the audit log.
func TestImportOverHTTP(t *testing.T) {
	dir := t.TempDir()
	pubFile, b, bad := trustedAndUntrusted(t, dir, 3, 1000)

	store := filepath.Join(dir, "store")
	writer := addToken(t, store, "uploader", "read,write")
	reader := addToken(t, store, "reader", "read")
	url := serve(t, store, "--pubkey", pubFile)

	if out, err := mfErr(t, "import", "--server", url, "--token", reader, b); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("import with a read token: %v\n%s", err, out)
	}
	// Evidence of tampering found by the server exits 3, as it does locally.
	if out, err := mfErr(t, "import", "--server", url, "--token", writer, bad); err == nil || !strings.Contains(out, "400") {
		t.Fatalf("import of a bundle signed by an untrusted key: %v\n%s", err, out)
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("import of a bundle signed by an untrusted key: %v, want exit code 3", err)
	}
	out := mf(t, "import", "--server", url, "--token", writer, b)
	if !strings.Contains(out, "3 module versions added") {
		t.Fatalf("import --server: %s", out)
	}
	if out := mf(t, "import", "--server", url, "--token", writer, b); !strings.Contains(out, "already imported") {
		t.Fatalf("second import --server: %s", out)
	}

	req, _ := http.NewRequest("GET", url+"/modferry.test/rand/m01/@v/list", nil)
	req.SetBasicAuth("x", reader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "v1.0.0\n" {
		t.Fatalf("list after an HTTP import = %d %q", resp.StatusCode, body)
	}
	log := mf(t, "audit", "show", "--store", store, "--action", "import", "--json")
	if !strings.Contains(log, `"token:uploader"`) || !strings.Contains(log, `"api"`) || !strings.Contains(log, `"denied"`) {
		t.Errorf("audit log lacks the HTTP imports:\n%s", log)
	}
	mf(t, "audit", "verify", "--store", store)
}

// TestImportJSONPartial: import --json of several bundles, one of which
// fails, still prints the results of those imported before it (they are
// in the store), each naming its bundle; the exit code is the failure's.
func TestImportJSONPartial(t *testing.T) {
	dir := t.TempDir()
	pubFile, good, bad := trustedAndUntrusted(t, dir, 2, 500)
	out, _, code := mfRun(t, nil, "import", "--json", "--pubkey", pubFile, "--store", filepath.Join(dir, "store"), good, bad)
	if code == 0 {
		t.Fatal("an import with a bundle signed by an untrusted key succeeded")
	}
	var res []struct {
		Bundle string
		Added  []struct{ Path, Version string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].Bundle != good || len(res[0].Added) != 2 {
		t.Fatalf("import --json with a later failure: %v, %+v\n%s", err, res, out)
	}
}

// trustedAndUntrusted writes under dir a public key file, a bundle of n
// random modules of size bytes signed by its key, and a bundle of one
// module signed by another key.
func trustedAndUntrusted(t *testing.T, dir string, n, size int) (pubFile, good, bad string) {
	t.Helper()
	key, pub := bundletest.NewKey(t)
	pubText, _ := pub.MarshalText()
	pubFile = filepath.Join(dir, "ferry.pub")
	if err := os.WriteFile(pubFile, pubText, 0o644); err != nil {
		t.Fatal(err)
	}
	good = filepath.Join(dir, "b.tar.zst")
	bundletest.Write(t, good, bundletest.RandomModules(3, n, size), key)
	otherKey, _ := bundletest.NewKey(t)
	bad = filepath.Join(dir, "other.tar.zst")
	bundletest.Write(t, bad, bundletest.RandomModules(4, 1, 100), otherKey)
	return pubFile, good, bad
}
