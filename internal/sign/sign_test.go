package sign

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// minisignPath returns the stock minisign binary. CI installs it; a missing
// binary is a test failure, never a skip.
func minisignPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("minisign")
	if err != nil {
		t.Fatalf("the stock minisign tool is required for this test (apt-get install minisign): %v", err)
	}
	return p
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerifiesWithStockMinisign(t *testing.T) {
	bin := minisignPath(t)
	dir := t.TempDir()
	priv, pub, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile := filepath.Join(dir, "key"), filepath.Join(dir, "key.pub")
	writeFile(t, keyFile, priv)
	writeFile(t, pubFile, pub)

	key, err := LoadPrivateKey(keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("{\"formatVersion\":1}\n")
	sig, err := SignWithComment(key, msg, "timestamp:1\tfile:MANIFEST.json\thashed")
	if err != nil {
		t.Fatal(err)
	}
	msgFile := filepath.Join(dir, "MANIFEST.json")
	writeFile(t, msgFile, msg)
	writeFile(t, msgFile+".minisig", sig)

	out, err := exec.Command(bin, "-Vm", msgFile, "-p", pubFile).CombinedOutput()
	if err != nil {
		t.Fatalf("minisign -V rejected our signature: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "file:MANIFEST.json") {
		t.Errorf("minisign output lacks the trusted comment:\n%s", out)
	}
	// -P with the bare key, as printed by `minisign -G`.
	out, err = exec.Command(bin, "-Vm", msgFile, "-P", key.Public().String()).CombinedOutput()
	if err != nil {
		t.Fatalf("minisign -V -P rejected our signature: %v\n%s", err, out)
	}

	// A flipped message byte must fail with the stock tool too.
	writeFile(t, msgFile, []byte("{\"formatVersion\":2}\n"))
	if out, err := exec.Command(bin, "-Vm", msgFile, "-p", pubFile).CombinedOutput(); err == nil {
		t.Fatalf("minisign -V accepted a modified message:\n%s", out)
	}
}

func TestStockMinisignSignatureVerifies(t *testing.T) {
	bin := minisignPath(t)
	dir := t.TempDir()
	keyFile, pubFile := filepath.Join(dir, "stock.key"), filepath.Join(dir, "stock.pub")
	if out, err := exec.Command(bin, "-G", "-W", "-s", keyFile, "-p", pubFile).CombinedOutput(); err != nil {
		t.Fatalf("minisign -G: %v\n%s", err, out)
	}
	msg := []byte("hello bundle\n")
	msgFile := filepath.Join(dir, "msg")
	writeFile(t, msgFile, msg)
	if out, err := exec.Command(bin, "-S", "-W", "-s", keyFile, "-m", msgFile).CombinedOutput(); err != nil {
		t.Fatalf("minisign -S: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(msgFile + ".minisig")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadPublicKeys(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Verify(keys, msg, sig)
	if err != nil {
		t.Fatalf("Verify of a stock minisign signature: %v", err)
	}
	if id != keys[0].ID() {
		t.Errorf("Verify reported key %s, want %s", id, keys[0].ID())
	}
	if _, err := Verify(keys, []byte("hello bundle!\n"), sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a changed message: got %v, want ErrBadSignature", err)
	}

	// The stock unencrypted key also signs here, and the stock tool
	// verifies the result.
	key, err := LoadPrivateKey(keyFile, nil)
	if err != nil {
		t.Fatalf("loading a `minisign -G -W` key: %v", err)
	}
	sig2, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, msgFile+".minisig", sig2)
	if out, err := exec.Command(bin, "-Vm", msgFile, "-p", pubFile).CombinedOutput(); err != nil {
		t.Fatalf("minisign -V: %v\n%s", err, out)
	}
}

// testKey returns a fresh unencrypted key pair, and the public key file.
func testKey(t testing.TB) (PrivateKey, []byte) {
	t.Helper()
	priv, pub, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParsePrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return key, pub
}

func TestVerifyRejects(t *testing.T) {
	key, _ := testKey(t)
	other, _ := testKey(t)
	msg := []byte("the manifest")
	sig, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	good := []PublicKey{other.Public(), key.Public()}
	if id, err := Verify(good, msg, sig); err != nil || id != key.ID() {
		t.Fatalf("Verify = %q, %v; want %q, nil", id, err, key.ID())
	}
	if _, err := Verify([]PublicKey{other.Public()}, msg, sig); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("wrong key: got %v, want ErrUnknownKey", err)
	}
	if _, err := Verify(nil, msg, sig); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no keys: got %v, want ErrUnknownKey", err)
	}
	// Every single-byte change of the signature or the message is rejected.
	for i := range sig {
		for _, x := range []byte{0x01, 0x20, 0x80} {
			bad := bytes.Clone(sig)
			bad[i] ^= x
			if _, err := Verify(good, msg, bad); err == nil {
				t.Errorf("signature byte %d ^ %#x (%q -> %q) accepted", i, x, sig[i], bad[i])
			}
		}
	}
	for i := range msg {
		bad := bytes.Clone(msg)
		bad[i] ^= 1
		if _, err := Verify(good, bad, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("message byte %d flipped: got %v, want ErrBadSignature", i, err)
		}
	}
	if _, err := Verify(good, msg, append(bytes.Clone(sig), '\n')); err == nil {
		t.Error("signature with trailing newline accepted")
	}
	if _, err := Verify(good, msg, bytes.ReplaceAll(sig, []byte("\n"), []byte("\r\n"))); err == nil {
		t.Error("signature with CRLF accepted")
	}
}

func TestLoadPublicKeys(t *testing.T) {
	dir := t.TempDir()
	var ids []string
	for _, name := range []string{"a.pub", "b.pub"} {
		priv, pub, err := GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePrivateKey(priv, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID())
		writeFile(t, filepath.Join(dir, name), pub)
	}
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not a key"))
	keys, err := LoadPublicKeys(dir, filepath.Join(dir, "a.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID() != ids[0] || keys[1].ID() != ids[1] {
		t.Fatalf("LoadPublicKeys = %v, want keys %v", keys, ids)
	}
	if _, err := LoadPublicKeys(t.TempDir()); !errors.Is(err, ErrNoPublicKeys) {
		t.Errorf("empty dir: got %v, want ErrNoPublicKeys", err)
	}
	if _, err := LoadPublicKeys(filepath.Join(dir, "notes.txt")); err == nil {
		t.Error("a file that is not a key was accepted")
	}
	if _, err := LoadPublicKeys(filepath.Join(dir, "missing.pub")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want ErrNotExist", err)
	}
}

// TestEncryptedKey uses minisign's real scrypt cost (1 GiB, a few seconds).
func TestEncryptedKey(t *testing.T) {
	if testing.Short() {
		t.Skip("scrypt with minisign's cost parameters takes seconds; run without -short")
	}
	bin := minisignPath(t)
	dir := t.TempDir()
	priv, pub, err := GenerateKey([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile := filepath.Join(dir, "key"), filepath.Join(dir, "key.pub")
	writeFile(t, keyFile, priv)
	writeFile(t, pubFile, pub)
	if _, err := LoadPrivateKey(keyFile, nil); err == nil {
		t.Fatal("encrypted key loaded without a passphrase")
	}
	if _, err := LoadPrivateKey(keyFile, func() ([]byte, error) { return []byte("wrong"), nil }); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: got %v, want ErrWrongPassphrase", err)
	}
	key, err := LoadPrivateKey(keyFile, func() ([]byte, error) { return []byte("correct horse"), nil })
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadPublicKeys(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	if keys[0].ID() != key.ID() {
		t.Fatalf("public key ID %s, secret key ID %s", keys[0].ID(), key.ID())
	}
	// The stock tool decrypts our encrypted key (passphrase on stdin) and
	// signs; Verify accepts the result.
	msgFile := filepath.Join(dir, "msg")
	writeFile(t, msgFile, []byte("data"))
	cmd := exec.Command(bin, "-S", "-s", keyFile, "-m", msgFile)
	cmd.Stdin = strings.NewReader("correct horse\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -S with our encrypted key: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(msgFile + ".minisig")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(keys, []byte("data"), sig); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
