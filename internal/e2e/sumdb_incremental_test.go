package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestSumDBIncremental: a client verifies against bundle 1's head; the
// checksum log grows; bundle 2, exported --since the store's inventory,
// is imported; the same client (same GOPATH, holding head 1) builds a
// project that needs bundle 2's modules. A client holding a head newer
// than the store's fails with modferry's explanation in the go command's
// error.
func TestSumDBIncremental(t *testing.T) {
	slow(t)
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	key, pub := keygen(t)
	exportEnv := []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}

	// Project 1 needs lib v1.0.0 (and dep); project 2 needs lib v1.2.0
	// and major v1.0.0, which bundle 1 lacks.
	src := t.TempDir()
	p1, p2 := filepath.Join(src, "p1"), filepath.Join(src, "p2")
	writeMod(t, p1, "example.test/p1", "modferry.test/lib v1.0.0", `import "modferry.test/lib"`, "lib.Version()")
	writeMod(t, p2, "example.test/p2", "modferry.test/lib v1.2.0\n\tmodferry.test/major v1.0.0", `import ("modferry.test/lib"; "modferry.test/major")`, "lib.Version() + major.Version()")

	tmp := t.TempDir()
	b1 := filepath.Join(tmp, "b1.tar.zst")
	mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", b1, "--upstream", up.URL, p1)
	store := filepath.Join(tmp, "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b1)

	// One client, kept across both bundles.
	cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GOPRIVATE=")
	c1 := filepath.Join(t.TempDir(), "p1")
	copyDir(t, p1, c1)
	offline(t, store, c1, cenv, `go mod download all && go build ./... && go mod verify`)
	gopath := envValue(cenv, "GOPATH")
	latest := filepath.Join(gopath, "pkg", "sumdb", db.Name, "latest")
	head1, err := os.ReadFile(latest)
	if err != nil {
		t.Fatalf("the client kept no tree head: %v", err)
	}

	// The log grows; bundle 2 is a delta against the store's inventory.
	db.AddFiller(t, 400)
	inv := filepath.Join(tmp, "inv.json")
	mf(t, "inventory", "--store", store, "-o", inv)
	b2 := filepath.Join(tmp, "b2.tar.zst")
	mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", b2, "--upstream", up.URL, "--since", inv, p2)
	mf(t, "verify", "--pubkey", pub, b2)
	mf(t, "import", "--pubkey", pub, "--store", store, b2)

	c2 := filepath.Join(t.TempDir(), "p2")
	copyDir(t, p2, c2)
	offline(t, store, c2, cenv, `go mod download all && go build ./... && go mod verify`)
	head2, _ := os.ReadFile(latest)
	if string(head1) == string(head2) {
		t.Errorf("the client's tree head did not move forward with bundle 2")
	}

	// A client that saw a newer head elsewhere.
	db.AddFiller(t, 300)
	fresh := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GOPRIVATE=")
	newer := filepath.Join(envValue(fresh, "GOPATH"), "pkg", "sumdb", db.Name, "latest")
	os.MkdirAll(filepath.Dir(newer), 0o755)
	os.WriteFile(newer, db.SignedHead(t), 0o644)
	c3 := filepath.Join(t.TempDir(), "p2")
	copyDir(t, p2, c3)
	out, err := offlineErr(t, store, c3, fresh, `go mod download all`)
	if err == nil {
		t.Fatalf("a client holding a head newer than the store's succeeded:\n%s", out)
	}
	if !strings.Contains(out, "newer tree head than the store") {
		t.Errorf("the failure does not explain itself:\n%s", out)
	}
}

func writeMod(t *testing.T, dir, path, require, imports, expr string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+path+"\n\ngo 1.21\n\nrequire (\n\t"+require+"\n)\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\n"+imports+"\n\nfunc main() { println("+expr+") }\n"), 0o644)
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}
