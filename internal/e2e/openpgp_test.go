package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/testupstream"
)

// gpgHome is a GnuPG home for one test, with a helper to run the stock gpg.
type gpgHome struct {
	t   *testing.T
	dir string
}

func newGPGHome(t *testing.T) *gpgHome {
	t.Helper()
	needTool(t, "gpg", "gpgconf")
	dir, err := os.MkdirTemp("", "gpg") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	})
	return &gpgHome{t: t, dir: dir}
}

func (g *gpgHome) args(args ...string) []string {
	return append([]string{"--homedir", g.dir, "--batch", "--yes", "--pinentry-mode", "loopback"}, args...)
}

func (g *gpgHome) run(args ...string) []byte {
	g.t.Helper()
	out, err := exec.Command("gpg", g.args(args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// key makes a signing key and returns its fingerprint.
func (g *gpgHome) key(name, passphrase string) string {
	g.t.Helper()
	g.run("--passphrase", passphrase, "--quick-gen-key", name+" <"+strings.ToLower(name)+"@modferry.test>", "ed25519", "sign", "never")
	for _, line := range strings.Split(string(g.run("--with-colons", "--list-keys", name)), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			return f[9]
		}
	}
	g.t.Fatalf("no fingerprint for %s", name)
	return ""
}

func (g *gpgHome) writeFile(name string, data []byte) string {
	g.t.Helper()
	p := filepath.Join(g.t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// TestOpenPGPSignatures: a bundle signed with a minisign key, an armored
// OpenPGP key (pure Go) and gpg itself through --sign-cmd carries both
// signature files; stock gpg and minisign accept them; verify and import
// take OpenPGP public keys, count distinct signers for
// --require-signatures, and refuse an edited manifest like gpg does.
func TestOpenPGPSignatures(t *testing.T) {
	up := testupstream.New(t)
	g := newGPGHome(t)
	alice := g.key("Alice", "alice pass")
	bob := g.key("Bob", "")
	aliceSecret := g.writeFile("alice.asc", g.run("--passphrase", "alice pass", "--armor", "--export-secret-keys", alice))
	pubs := g.writeFile("signers.asc", g.run("--armor", "--export", alice, bob))
	alicePub := g.writeFile("alice.pub.asc", g.run("--armor", "--export", alice))
	bobPubBinary := g.writeFile("bob.gpg", g.run("--export", bob))
	miniKey, miniPub := keygen(t)

	b := filepath.Join(t.TempDir(), "b.tar.zst")
	signCmd := strings.Join(append([]string{"gpg"}, g.args("--detach-sign", "--armor", "-u", bob)...), " ")
	mfEnv(t, append(exportEnv, "MODFERRY_KEY_PASSPHRASE=alice pass"), "export",
		"--sign-key", miniKey, "--sign-key", aliceSecret, "--sign-cmd", signCmd,
		"-o", b, "--upstream", up.URL, "modferry.test/lib@v1.2.0")

	dir := t.TempDir()
	if out, err := exec.Command("tar", "--zstd", "-xf", b, "-C", dir, "MANIFEST.json", "MANIFEST.json.minisig", "MANIFEST.json.asc").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	manifest, asc := filepath.Join(dir, "MANIFEST.json"), filepath.Join(dir, "MANIFEST.json.asc")
	gpgVerify := func() (string, error) {
		out, err := exec.Command("gpg", "--homedir", g.dir, "--batch", "--status-fd", "1", "--verify", asc, manifest).CombinedOutput()
		return string(out), err
	}
	if out, err := gpgVerify(); err != nil || strings.Count(out, "[GNUPG:] GOODSIG") != 2 {
		t.Fatalf("gpg --verify: want two good signatures (Alice, Bob): %v\n%s", err, out)
	}
	if out, err := exec.Command("minisign", "-Vm", manifest, "-p", miniPub).CombinedOutput(); err != nil {
		t.Fatalf("minisign -V: %v\n%s", err, out)
	}

	type verdict struct {
		OK      bool
		Error   string
		Signers []struct{ Kind, KeyID string }
	}
	verify := func(args ...string) verdict {
		t.Helper()
		out, _ := mfErr(t, append(append([]string{"verify", "--json"}, args...), b)...)
		var v []verdict
		if err := json.NewDecoder(strings.NewReader(out)).Decode(&v); err != nil || len(v) != 1 {
			t.Fatalf("verify --json: %v\n%s", err, out)
		}
		return v[0]
	}
	// OpenPGP keys alone (an armored ring), or mixed with minisign and a binary key.
	if v := verify("--pubkey", pubs); !v.OK || len(v.Signers) != 2 {
		t.Errorf("verify with the OpenPGP ring: %+v", v)
	}
	if v := verify("--pubkey", miniPub, "--pubkey", alicePub, "--pubkey", bobPubBinary, "--require-signatures", "3"); !v.OK || len(v.Signers) != 3 {
		t.Errorf("verify with all three keys, three required: %+v", v)
	}
	// Four eyes: one trusted key is not enough when two are required.
	if v := verify("--pubkey", alicePub, "--require-signatures", "2"); v.OK || !strings.Contains(v.Error, "1 trusted signer") {
		t.Errorf("two signers required, one trusted: %+v", v)
	}
	if v := verify("--pubkey", alicePub, "--pubkey", miniPub, "--require-signatures", "2"); !v.OK {
		t.Errorf("two signers required, two trusted: %+v", v)
	}
	// No trusted key at all.
	otherKey, otherPub := keygen(t)
	_ = otherKey
	if v := verify("--pubkey", otherPub); v.OK || !strings.Contains(v.Error, "no trusted key") {
		t.Errorf("verify with an unrelated key: %+v", v)
	}

	// Import with OpenPGP keys only.
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pubs, "--require-signatures", "2", "--store", store, b)
	if _, err := os.Stat(filepath.Join(store, "download", "modferry.test", "lib", "@v", "v1.2.0.zip")); err != nil {
		t.Fatalf("import with OpenPGP keys: %v", err)
	}

	// An edited manifest: gpg refuses it, and so does modferry, given a
	// bundle that carries the edited manifest with the OpenPGP signature.
	data, _ := os.ReadFile(manifest)
	m, err := bundle.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	m.ToolVersion += "-edited"
	edited, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(manifest, edited, 0o644)
	if out, err := gpgVerify(); err == nil {
		t.Fatalf("gpg accepted an edited manifest:\n%s", out)
	}
	all := t.TempDir()
	if out, err := exec.Command("tar", "--zstd", "-xf", b, "-C", all).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	ascData, _ := os.ReadFile(asc)
	tampered := filepath.Join(t.TempDir(), "tampered.tar.zst")
	f, err := os.Create(tampered)
	if err != nil {
		t.Fatal(err)
	}
	err = bundle.Write(context.Background(), f, m, bundle.Signatures{OpenPGP: ascData}, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(all, name))
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := mfErr(t, "verify", "--pubkey", pubs, tampered)
	if err == nil || !strings.Contains(out, "MANIFEST.json.asc") || !strings.Contains(out, "signature") {
		t.Fatalf("verify accepted an edited manifest signed with OpenPGP:\n%s", out)
	}
	// The same bundle with the manifest as signed verifies: the refusal
	// above is the edit's.
	m.ToolVersion = strings.TrimSuffix(m.ToolVersion, "-edited")
	f, _ = os.Create(tampered)
	err = bundle.Write(context.Background(), f, m, bundle.Signatures{OpenPGP: ascData}, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(all, name))
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	mf(t, "verify", "--pubkey", pubs, tampered)
}
