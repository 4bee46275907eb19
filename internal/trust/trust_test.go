package trust

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/pgp"
	"github.com/modferry/modferry/internal/sign"
)

// pgpKey makes an OpenPGP key and returns the armored secret and public keys.
func pgpKey(t *testing.T, name string) (secret, public []byte) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@modferry.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var s, p bytes.Buffer
	w, _ := armor.Encode(&s, "PGP PRIVATE KEY BLOCK", nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&p, "PGP PUBLIC KEY BLOCK", nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return s.Bytes(), p.Bytes()
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicy(t *testing.T) {
	dir := t.TempDir()
	manifest := []byte(`{"formatVersion":1}` + "\n")

	mPriv, mPub, err := sign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	mKey, _ := sign.ParsePrivateKey(mPriv, nil)
	minisig, _ := sign.Sign(mKey, manifest)
	write(t, dir, "mini.pub", mPub)

	aSec, aPub := pgpKey(t, "alice")
	bSec, bPub := pgpKey(t, "bob")
	write(t, dir, "alice.asc", aPub)
	outsider, _ := pgpKey(t, "mallory")
	sigOf := func(secret []byte) []byte {
		k, err := pgp.ParsePrivateKey(secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := pgp.Sign(k, manifest)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	aliceBob, err := pgp.Combine(sigOf(aSec), sigOf(bSec))
	if err != nil {
		t.Fatal(err)
	}
	aliceMallory, _ := pgp.Combine(sigOf(aSec), sigOf(outsider))

	// The directory holds a minisign key and Alice; Bob's key is a file of its own.
	keys, err := Load(dir, write(t, t.TempDir(), "bob.key", bPub))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Minisign) != 1 || keys.OpenPGP.Len() != 2 {
		t.Fatalf("loaded %d minisign and %d OpenPGP keys, want 1 and 2", len(keys.Minisign), keys.OpenPGP.Len())
	}

	for _, tc := range []struct {
		name    string
		sigs    bundle.Signatures
		require int
		signers int
		err     error
	}{
		{"minisign alone", bundle.Signatures{Minisign: minisig}, 0, 1, nil},
		{"OpenPGP alone", bundle.Signatures{OpenPGP: sigOf(aSec)}, 1, 1, nil},
		{"three signers", bundle.Signatures{Minisign: minisig, OpenPGP: aliceBob}, 3, 3, nil},
		{"four required", bundle.Signatures{Minisign: minisig, OpenPGP: aliceBob}, 4, 0, ErrTooFewSigners},
		{"an outsider is not counted", bundle.Signatures{OpenPGP: aliceMallory}, 2, 0, ErrTooFewSigners},
		{"an outsider alone", bundle.Signatures{OpenPGP: sigOf(outsider)}, 1, 0, sign.ErrUnknownKey},
		{"an outsider beside a trusted signer", bundle.Signatures{OpenPGP: aliceMallory}, 1, 1, nil},
		{"a broken minisign signature fails all", bundle.Signatures{Minisign: breakMinisign(t, minisig), OpenPGP: aliceBob}, 1, 0, sign.ErrBadSignature},
		{"a broken OpenPGP signature fails all", bundle.Signatures{Minisign: minisig, OpenPGP: []byte("-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n")}, 1, 0, pgp.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signers, err := Policy{Keys: keys, Require: tc.require}.Verify(manifest, tc.sigs)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || len(signers) != tc.signers {
				t.Fatalf("signers %v, err %v; want %d signers", signers, err, tc.signers)
			}
		})
	}

	// One file holding two armored keys (cat alice.asc bob.asc): both.
	team, err := Load(write(t, t.TempDir(), "team.asc", append(append([]byte{}, aPub...), bPub...)))
	if err != nil || team.OpenPGP.Len() != 2 {
		t.Fatalf("a file of two armored keys: %v keys, %v; want 2", team.OpenPGP.Len(), err)
	}
	if signers, err := (Policy{Keys: team, Require: 2}).Verify(manifest, bundle.Signatures{OpenPGP: aliceBob}); err != nil || len(signers) != 2 {
		t.Errorf("Alice and Bob from one key file: %v, %v", signers, err)
	}

	// Alice trusted twice (her key in the directory and again as a file
	// of its own, as with alice.asc beside alice.gpg), and her signature
	// twice: still one signer, short of two.
	twice, err := Load(dir, write(t, t.TempDir(), "alice-again.asc", aPub))
	if err != nil {
		t.Fatal(err)
	}
	aliceAlice, _ := pgp.Combine(sigOf(aSec), sigOf(aSec))
	for _, sigs := range [][]byte{sigOf(aSec), aliceAlice} {
		if signers, err := (Policy{Keys: twice, Require: 2}).Verify(manifest, bundle.Signatures{OpenPGP: sigs}); !errors.Is(err, ErrTooFewSigners) {
			t.Errorf("one signer counted twice: signers %v, err %v; want ErrTooFewSigners", signers, err)
		}
	}

	// A signature over other bytes by a trusted key is tampering.
	other := []byte(`{"formatVersion":2}` + "\n")
	if _, err := (Policy{Keys: keys}).Verify(other, bundle.Signatures{OpenPGP: aliceBob}); !errors.Is(err, pgp.ErrBadSignature) {
		t.Fatalf("edited manifest: %v, want pgp.ErrBadSignature", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, sign.ErrNoPublicKeys) {
		t.Errorf("empty directory: %v", err)
	}
	write(t, dir, "notes.asc", []byte("not a key\n"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "notes.asc") {
		t.Errorf("a directory with a bad key file: %v, want an error naming it", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.pub")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// breakMinisign flips one bit of the Ed25519 signature in a minisig file
// (its second line: 2 bytes of algorithm, 8 of key ID, then 64 of signature),
// so the key still matches and only the signature check can fail.
func breakMinisign(t *testing.T, minisig []byte) []byte {
	t.Helper()
	lines := strings.SplitN(string(minisig), "\n", 3)
	raw, err := base64.StdEncoding.DecodeString(lines[1])
	if err != nil || len(raw) != 74 {
		t.Fatalf("minisig line 2: %d bytes, %v", len(raw), err)
	}
	raw[10] ^= 1
	lines[1] = base64.StdEncoding.EncodeToString(raw)
	return []byte(strings.Join(lines, "\n"))
}
