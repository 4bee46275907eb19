package pgp

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// gnupg is a GnuPG home made for one test; the stock gpg checks what this
// package writes, and writes what it reads.
type gnupg struct {
	t    *testing.T
	home string
}

func newGnuPG(t *testing.T) *gnupg {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is not installed (scripts/test.sh installs gnupg)")
	}
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	g := &gnupg{t: t, home: home}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	return g
}

func (g *gnupg) run(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command("gpg", append([]string{"--homedir", g.home, "--batch", "--yes", "--pinentry-mode", "loopback"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), errors.New(err.Error() + ": " + errb.String())
	}
	return out.Bytes(), nil
}

func (g *gnupg) must(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, err := g.run(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// genKey makes a signing key and returns its fingerprint.
func (g *gnupg) genKey(name, passphrase, algo string) string {
	g.t.Helper()
	g.must(nil, "--passphrase", passphrase, "--quick-gen-key", name+" <"+strings.ToLower(name)+"@modferry.test>", algo, "sign", "never")
	out := g.must(nil, "--with-colons", "--list-keys", name)
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			return f[9]
		}
	}
	g.t.Fatalf("no fingerprint for %s in\n%s", name, out)
	return ""
}

func (g *gnupg) verify(sig, message []byte) (string, error) {
	dir := g.t.TempDir()
	sf, mf := filepath.Join(dir, "m.asc"), filepath.Join(dir, "m")
	os.WriteFile(sf, sig, 0o644)
	os.WriteFile(mf, message, 0o644)
	cmd := exec.Command("gpg", "--homedir", g.home, "--batch", "--status-fd", "1", "--verify", sf, mf)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSignVerifyWithGnuPG(t *testing.T) {
	g := newGnuPG(t)
	alice := g.genKey("Alice", "", "ed25519")
	bob := g.genKey("Bob", "secret words", "rsa3072")
	message := []byte(`{"formatVersion":1,"modules":[]}` + "\n")

	// Our signature with Alice's exported secret key: gpg accepts it.
	aliceKey, err := ParsePrivateKey(g.must(nil, "--armor", "--export-secret-keys", alice), nil)
	if err != nil {
		t.Fatal(err)
	}
	if aliceKey.ID() != alice {
		t.Errorf("key ID %s, gpg says %s", aliceKey.ID(), alice)
	}
	ours, err := Sign(aliceKey, message)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := g.verify(ours, message); err != nil || !strings.Contains(out, "GOODSIG") {
		t.Fatalf("gpg --verify refused our signature: %v\n%s", err, out)
	}

	// Bob's key is encrypted: a wrong passphrase is refused, the right one works.
	bobSecret := g.must([]byte("secret words"), "--passphrase-fd", "0", "--armor", "--export-secret-keys", bob)
	if _, err := ParsePrivateKey(bobSecret, func() ([]byte, error) { return []byte("wrong"), nil }); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	if _, err := ParsePrivateKey(bobSecret, func() ([]byte, error) { return []byte("secret words"), nil }); err != nil {
		t.Errorf("right passphrase: %v", err)
	}

	// gpg's own signature, by Bob, verifies here.
	theirs := g.must(append([]byte(nil), message...), "--passphrase", "secret words", "--armor", "--detach-sign", "-u", bob)
	ring, err := ParseKeyRing(g.must(nil, "--armor", "--export", alice, bob))
	if err != nil {
		t.Fatal(err)
	}
	signers, untrusted, err := Verify(ring, message, theirs)
	if err != nil || !slices.Equal(signers, []string{bob}) || untrusted != 0 {
		t.Fatalf("Verify(gpg's signature) = %v, %d, %v; want [%s]", signers, untrusted, err, bob)
	}

	// Both signatures in one file: gpg and Verify see two good signers.
	both, err := Combine(ours, theirs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.verify(both, message)
	if err != nil || strings.Count(out, "GOODSIG") != 2 {
		t.Fatalf("gpg --verify of the combined signature: %v\n%s", err, out)
	}
	signers, _, err = Verify(ring, message, both)
	slices.Sort(signers)
	want := []string{alice, bob}
	slices.Sort(want)
	if err != nil || !slices.Equal(signers, want) {
		t.Fatalf("Verify(combined) = %v, %v; want %v", signers, err, want)
	}

	// A binary public key ring (gpg --export) reads too; a ring with only
	// Alice sees Bob's packet as untrusted.
	aliceRing, err := ParseKeyRing(g.must(nil, "--export", alice))
	if err != nil {
		t.Fatal(err)
	}
	signers, untrusted, err = Verify(aliceRing, message, both)
	if err != nil || !slices.Equal(signers, []string{alice}) || untrusted != 1 {
		t.Fatalf("Verify with Alice only = %v, %d, %v", signers, untrusted, err)
	}

	// An edited message: both tools refuse.
	edited := bytes.Replace(message, []byte("1"), []byte("2"), 1)
	if out, err := g.verify(both, edited); err == nil {
		t.Fatalf("gpg accepted an edited manifest:\n%s", out)
	}
	if _, _, err := Verify(ring, edited, both); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify(edited) = %v, want ErrBadSignature", err)
	}
}

func TestVerifyRejectsGarbage(t *testing.T) {
	var ring KeyRing
	for _, sig := range []string{
		"",
		"not a signature",
		"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
		"-----BEGIN PGP MESSAGE-----\n\nowE=\n=AAAA\n-----END PGP MESSAGE-----\n",
	} {
		if _, _, err := Verify(ring, []byte("m"), []byte(sig)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("Verify(%q) = %v, want ErrBadSignature", sig, err)
		}
	}
	if LooksLikeKey([]byte("untrusted comment: minisign public key 1234\nRWQ=\n")) {
		t.Error("a minisign key looks like an OpenPGP key")
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP SIGNATURE-----\n\niHUEABYIAB0WIQ==\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte{0x88, 0x75, 0x04, 0x00})
	f.Fuzz(func(t *testing.T, sig []byte) {
		signers, _, err := Verify(KeyRing{}, []byte("message"), sig)
		if err == nil && len(signers) > 0 {
			t.Fatalf("an empty key ring trusted %v", signers)
		}
	})
}

// TestTextModeRefused: a text-mode signature verifies for the message
// with its line endings rewritten, so only binary signatures count.
func TestTextModeRefused(t *testing.T) {
	e, err := openpgp.NewEntity("alice", "", "alice@modferry.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	ring := KeyRing{list: openpgp.EntityList{e}}
	msg := []byte("{\"formatVersion\":1}\n")
	var text bytes.Buffer
	if err := openpgp.ArmoredDetachSignText(&text, e, bytes.NewReader(msg), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(ring, msg, text.Bytes()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a text-mode signature: %v, want ErrBadSignature", err)
	}
	bin, err := Sign(&PrivateKey{e: e}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if signers, _, err := Verify(ring, msg, bin); err != nil || len(signers) != 1 {
		t.Errorf("a binary signature: %v, %v", signers, err)
	}
}

// TestExpiredKeyNotCounted: a signature by a trusted key that has expired
// does not count, and says why, but is not taken for tampering.
func TestExpiredKeyNotCounted(t *testing.T) {
	past := time.Now().Add(-2 * time.Hour)
	cfg := &packet.Config{Time: func() time.Time { return past }, KeyLifetimeSecs: 3600}
	e, err := openpgp.NewEntity("old", "", "old@modferry.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("{\"formatVersion\":1}\n")
	var sig bytes.Buffer
	signCfg := &packet.Config{Time: func() time.Time { return past.Add(10 * time.Minute) }}
	if err := openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(msg), signCfg); err != nil {
		t.Fatal(err)
	}
	ring := KeyRing{list: openpgp.EntityList{e}}
	signers, _, notes, err := VerifyNotes(ring, msg, sig.Bytes())
	if err != nil || len(signers) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "expired") {
		t.Fatalf("an expired key's signature: signers %v, notes %q, err %v; want no signer, a note, no error", signers, notes, err)
	}
}
