package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle/bundletest"
)

// TestImportStdin: "import -" reads the bundle from standard input, and an
// input that cannot be read (no such file, empty standard input) fails
// before anything, the store directory included, is created.
func TestImportStdin(t *testing.T) {
	dir := t.TempDir()
	key, pub := bundletest.NewKey(t)
	pubText, _ := pub.MarshalText()
	pubFile := filepath.Join(dir, "ferry.pub")
	os.WriteFile(pubFile, pubText, 0o644)
	b := filepath.Join(dir, "b.tar.zst")
	bundletest.Write(t, b, bundletest.RandomModules(5, 2, 500), key)

	run := func(stdinFile string, args ...string) (string, error) {
		cmd := exec.Command(modferryBin, args...)
		in, err := os.Open(stdinFile)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		cmd.Stdin = in
		out, err := cmd.CombinedOutput()
		t.Logf("modferry %s < %s\n%s", strings.Join(args, " "), stdinFile, out)
		return string(out), err
	}

	nostore := filepath.Join(dir, "nostore")
	if out, err := run(os.DevNull, "import", "--pubkey", pubFile, "--store", nostore, "-"); err == nil || !strings.Contains(out, "standard input is empty") {
		t.Errorf("import - with empty standard input: %v\n%s", err, out)
	}
	if out, err := run(os.DevNull, "import", "--pubkey", pubFile, "--store", nostore, filepath.Join(dir, "missing.tar.zst")); err == nil || !strings.Contains(out, "no such file") {
		t.Errorf("import of a missing file: %v\n%s", err, out)
	}
	if _, err := os.Stat(nostore); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed import created the store: %v", err)
	}

	store := filepath.Join(dir, "store")
	out, err := run(b, "import", "--pubkey", pubFile, "--store", store, "-")
	if err != nil || !strings.Contains(out, "imported standard input") || !strings.Contains(out, "2 module versions added") {
		t.Fatalf("import -: %v\n%s", err, out)
	}
	if out, err := run(b, "import", "--pubkey", pubFile, "--store", store, "-"); err != nil || !strings.Contains(out, "already imported") {
		t.Fatalf("import - again: %v\n%s", err, out)
	}
	if names, _ := os.ReadDir(filepath.Join(store, "uploads")); len(names) != 0 {
		t.Errorf("the spooled bundle stays behind: %v", names)
	}
	if out := mf(t, "audit", "show", "--store", store, "--action", "import"); !strings.Contains(out, "stdin") && !strings.Contains(out, "standard input") {
		t.Errorf("audit log lacks the import from standard input:\n%s", out)
	}
	mf(t, "audit", "verify", "--store", store)
}
