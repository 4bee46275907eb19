package e2e

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestSumDBOffline: a bundle carries checksum-database proofs from a local
// database; offline, a fresh client with GOSUMDB on (name and key only, so
// every proof must come through modferry) and no go.sum lines for its
// dependencies downloads, builds and verifies. Tampering with a served
// zip, lookup, tile or signature makes the go command itself refuse.
func TestSumDBOffline(t *testing.T) {
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app) // no go.sum
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	env := []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}
	mfEnv(t, env, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, app)
	out := mf(t, "verify", "--pubkey", pub, b)
	if !strings.HasPrefix(out, "OK ") {
		t.Fatalf("verify: %s", out)
	}
	m := readManifest(t, b)
	if m.SumDB == nil || m.SumDB.Name != db.Name || m.SumDB.TreeHead == "" {
		t.Fatalf("manifest sumdb = %+v", m.SumDB)
	}
	proofs := 0
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "sumdb/") {
			proofs++
		}
	}
	t.Logf("%d proof files for %d module versions", proofs, len(m.Modules))

	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)

	client := func(t *testing.T, store string) (string, error) {
		dir := filepath.Join(t.TempDir(), "app")
		copyDir(t, app, dir)
		cenv := append(testupstream.GoEnv(t, "http://127.0.0.1:3999"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=")
		cmd := exec.Command("unshare", "-n", "sh", "-c", offlineScript)
		cmd.Dir = dir
		cmd.Env = append(cenv, "MODFERRY="+modferryBin, "STORE="+store, "SERVELOG="+filepath.Join(t.TempDir(), "log"),
			"CLIENT=go mod download all && go build ./... && go mod verify && cat go.sum")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		return string(out), err
	}
	t.Run("verified", func(t *testing.T) {
		out, err := client(t, store)
		if err != nil {
			t.Fatalf("offline build with GOSUMDB on failed: %v", err)
		}
		if !strings.Contains(out, "all modules verified") || !strings.Contains(out, "modferry.test/dep v1.1.0 h1:") {
			t.Fatalf("expected verified modules and new go.sum lines:\n%s", out)
		}
	})

	tamper := []struct {
		name string
		edit func(t *testing.T, store string)
		want string // in the go command's output
	}{
		{"zip", func(t *testing.T, store string) {
			rezip(t, filepath.Join(store, "download/modferry.test/dep/@v/v1.1.0.zip"))
		}, "SECURITY ERROR"},
		{"lookup", func(t *testing.T, store string) {
			p := filepath.Join(store, "sumdb", db.Name, "lookup", "modferry.test/dep@v1.1.0")
			data := mustRead(t, p)
			i := bytes.Index(data, []byte(" h1:")) + 5
			data[i] ^= 1
			os.WriteFile(p, data, 0o644)
		}, "cannot authenticate record data"},
		{"tile", func(t *testing.T, store string) {
			filepath.Walk(filepath.Join(store, "sumdb", db.Name, "tile"), func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.Mode().IsRegular() {
					data := mustRead(t, p)
					for i := 0; i < len(data); i += 32 {
						data[i] ^= 0x55
					}
					os.WriteFile(p, data, 0o644)
				}
				return nil
			})
		}, "downloaded inconsistent tile"},
		{"signature", func(t *testing.T, store string) {
			p := filepath.Join(store, "sumdb", db.Name, "lookup", "modferry.test/dep@v1.1.0")
			data := mustRead(t, p)
			i := bytes.LastIndex(data, []byte("\u2014 ")) // the signature line
			j := i + len("\u2014 ") + len(db.Name) + 8
			if data[j] == 'A' {
				data[j] = 'B'
			} else {
				data[j] = 'A'
			}
			os.WriteFile(p, data, 0o644)
		}, "invalid signature for key"},
	}
	for _, tt := range tamper {
		t.Run("tampered-"+tt.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "store")
			copyDir(t, store, bad)
			tt.edit(t, bad)
			out, err := client(t, bad)
			if err == nil {
				t.Fatalf("the go command accepted a tampered %s", tt.name)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("tampered %s: the go command failed without %q:\n%s", tt.name, tt.want, out)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// rezip rewrites a module zip with one byte of one file's content
// changed: still a valid zip, with the wrong content.
func rezip(t *testing.T, p string) {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	changed := false
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if !changed && strings.HasSuffix(f.Name, ".go") && len(data) > 0 {
			data[len(data)-1] ^= ' ' // a newline becomes '*'
			changed = true
		}
		w, _ := zw.Create(f.Name)
		w.Write(data)
	}
	zr.Close()
	zw.Close()
	if !changed {
		t.Fatal("no .go file to change")
	}
	os.WriteFile(p, buf.Bytes(), 0o644)
}
