// Package pgp signs and verifies bundle manifests with OpenPGP detached
// signatures (RFC 4880), as `gpg --detach-sign --armor` writes them and
// `gpg --verify` checks them.
//
// A detached signature file may hold several signature packets, one per
// signer; gpg verifies each of them, and so does [Verify]. Signatures are
// written armored ("-----BEGIN PGP SIGNATURE-----"); armored and binary
// signatures and keys are both read. Keys are identified by their
// fingerprint in upper-case hex, as `gpg --list-keys` prints it.
package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var (
	// ErrBadSignature reports a signature that is malformed, or made by a
	// trusted key but not over the message.
	ErrBadSignature = errors.New("OpenPGP signature verification failed")
	// ErrWrongPassphrase reports a secret key that does not decrypt.
	ErrWrongPassphrase = errors.New("wrong passphrase for OpenPGP secret key")
	// ErrNotAKey reports data that holds no OpenPGP key.
	ErrNotAKey = errors.New("not an OpenPGP key")
)

const (
	privateBlock   = "PGP PRIVATE KEY BLOCK"
	publicBlock    = "PGP PUBLIC KEY BLOCK"
	signatureBlock = "PGP SIGNATURE"
)

// IsArmored reports whether data starts with an ASCII-armor header of
// OpenPGP (after leading white space).
func IsArmored(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN PGP "))
}

// LooksLikeKey reports whether data is an armored OpenPGP key block, or
// binary data that parses as an OpenPGP key ring.
func LooksLikeKey(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(t, []byte("-----BEGIN "+privateBlock)) || bytes.HasPrefix(t, []byte("-----BEGIN "+publicBlock)) {
		return true
	}
	if len(data) == 0 || data[0]&0x80 == 0 {
		return false // every binary OpenPGP packet starts with the high bit set
	}
	el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	return err == nil && len(el) > 0
}

// readKeyRing reads armored or binary keys.
func readKeyRing(data []byte) (openpgp.EntityList, error) {
	if !IsArmored(data) {
		return openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	// Every armored block: `cat alice.asc bob.asc > team.asc` holds two,
	// and reading only the first dropped Bob without a word.
	const begin = "-----BEGIN PGP "
	var all openpgp.EntityList
	rest := data
	for {
		i := bytes.Index(rest, []byte(begin))
		if i < 0 {
			break
		}
		block := rest[i:]
		next := bytes.Index(block[len(begin):], []byte(begin))
		if next >= 0 {
			block = block[:len(begin)+next]
		}
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(block))
		if err != nil {
			return nil, err
		}
		all = append(all, el...)
		if next < 0 {
			break
		}
		rest = rest[i+len(begin)+next:]
	}
	return all, nil
}

// Fingerprint returns e's primary key fingerprint in upper-case hex.
func Fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

// PrivateKey is an OpenPGP secret key that can sign.
type PrivateKey struct {
	e *openpgp.Entity
}

// ID returns the key's fingerprint.
func (k *PrivateKey) ID() string { return Fingerprint(k.e) }

// ParsePrivateKey reads one secret key (armored or binary). If it is
// encrypted, passphrase is called for the passphrase.
func ParsePrivateKey(data []byte, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	el, err := readKeyRing(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAKey, err)
	}
	if len(el) != 1 {
		return nil, fmt.Errorf("%w: want one secret key, the file holds %d keys", ErrNotAKey, len(el))
	}
	e := el[0]
	if e.PrivateKey == nil {
		return nil, fmt.Errorf("%w: the file holds a public key, not a secret key", ErrNotAKey)
	}
	if encrypted(e) {
		if passphrase == nil {
			return nil, ErrWrongPassphrase
		}
		p, err := passphrase()
		if err != nil {
			return nil, err
		}
		if err := e.DecryptPrivateKeys(p); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrWrongPassphrase, err)
		}
	}
	if _, ok := e.SigningKey(time.Now()); !ok {
		return nil, fmt.Errorf("%w: key %s has no valid signing key", ErrNotAKey, Fingerprint(e))
	}
	return &PrivateKey{e: e}, nil
}

func encrypted(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// Sign returns an armored detached signature of message by k, over the
// message's bytes as they are (a binary signature, as gpg --detach-sign).
func Sign(k *PrivateKey, message []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, k.e, bytes.NewReader(message), nil); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Combine merges detached signatures (armored or binary, each with one or
// more signature packets) into one armored signature holding all their
// packets, which `gpg --verify` checks one by one.
func Combine(sigs ...[]byte) ([]byte, error) {
	var body bytes.Buffer
	for _, s := range sigs {
		raw, err := dearmor(s)
		if err != nil {
			return nil, err
		}
		if _, err := issuers(raw); err != nil {
			return nil, err
		}
		body.Write(raw)
	}
	var out bytes.Buffer
	w, err := armor.Encode(&out, signatureBlock, nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(body.Bytes()); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// dearmor returns the packets of a signature, armored or binary.
func dearmor(sig []byte) ([]byte, error) {
	if !IsArmored(sig) {
		return sig, nil
	}
	block, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if block.Type != signatureBlock {
		return nil, fmt.Errorf("%w: armor block %q, want %q", ErrBadSignature, block.Type, signatureBlock)
	}
	raw, err := io.ReadAll(block.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return raw, nil
}

// issuers returns the issuer key IDs of the signature packets in raw, and
// an error if raw holds anything but signature packets.
func issuers(raw []byte) ([]uint64, error) {
	var ids []uint64
	pr := packet.NewReader(bytes.NewReader(raw))
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return nil, fmt.Errorf("%w: a %T where only signatures may be", ErrBadSignature, p)
		}
		if sig.IssuerKeyId == nil {
			return nil, fmt.Errorf("%w: a signature names no issuer", ErrBadSignature)
		}
		// Binary signatures only: a text-mode one (gpg --textmode,
		// --clearsign) also verifies for the manifest with its line
		// endings rewritten, other bytes than were signed.
		if sig.SigType != packet.SigTypeBinary {
			return nil, fmt.Errorf("%w: a signature of type %#x, not over binary data (sign with gpg --detach-sign, without --textmode)", ErrBadSignature, uint8(sig.SigType))
		}
		ids = append(ids, *sig.IssuerKeyId)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no signature packet", ErrBadSignature)
	}
	return ids, nil
}

// KeyRing is a set of trusted OpenPGP public keys.
type KeyRing struct {
	list openpgp.EntityList
}

// ParseKeyRing reads public keys (an armored block, or a binary key ring
// such as `gpg --export` writes). Secret keys are read for their public
// part.
func ParseKeyRing(data []byte) (KeyRing, error) {
	el, err := readKeyRing(data)
	if err != nil {
		return KeyRing{}, fmt.Errorf("%w: %v", ErrNotAKey, err)
	}
	if len(el) == 0 {
		return KeyRing{}, ErrNotAKey
	}
	return KeyRing{list: el}, nil
}

// Add adds the keys of other to r.
func (r *KeyRing) Add(other KeyRing) { r.list = append(r.list, other.list...) }

// Len returns the number of keys in r.
func (r KeyRing) Len() int { return len(r.list) }

// IDs returns the fingerprints of the keys in r.
func (r KeyRing) IDs() []string {
	ids := make([]string, len(r.list))
	for i, e := range r.list {
		ids[i] = Fingerprint(e)
	}
	return ids
}

// Verify checks the detached signature sig of message against r. It
// returns the fingerprints of the trusted keys whose signature verifies,
// and the number of signature packets made by keys r does not hold. A
// signature packet made by a key of r that does not verify, or a malformed
// signature, is an error wrapping ErrBadSignature. A signature by a key
// of r that has expired does not count (see VerifyNotes).
func Verify(r KeyRing, message, sig []byte) (signers []string, untrusted int, err error) {
	signers, untrusted, _, err = VerifyNotes(r, message, sig)
	return signers, untrusted, err
}

// VerifyNotes is Verify, also saying why a signature by a key of r did
// not count: its key (or the signature) has expired. That is no sign of
// tampering (the signature is over these bytes), so it is not an error:
// other signers may still meet a policy, and the note says what to do.
func VerifyNotes(r KeyRing, message, sig []byte) (signers []string, untrusted int, notes []string, err error) {
	raw, err := dearmor(sig)
	if err != nil {
		return nil, 0, nil, err
	}
	ids, err := issuers(raw)
	if err != nil {
		return nil, 0, nil, err
	}
	for _, id := range ids {
		if len(r.list.KeysByIdUsage(id, packet.KeyFlagSign)) == 0 {
			untrusted++
		}
	}
	for _, e := range r.list {
		// One entity at a time: the check takes the first signature
		// packet by a key of the ring it is given.
		_, err := openpgp.CheckDetachedSignature(openpgp.EntityList{e}, bytes.NewReader(message), bytes.NewReader(raw), nil)
		switch {
		case err == nil:
			signers = append(signers, Fingerprint(e))
		case errors.Is(err, pgperrors.ErrUnknownIssuer):
			// e made none of the signatures.
		case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrSignatureExpired):
			notes = append(notes, fmt.Sprintf("OpenPGP key %s has expired (or its signature has): its signature does not count; extend the key's expiry and give the updated public key, or sign again with a current key", Fingerprint(e)))
		default:
			return nil, 0, nil, fmt.Errorf("%w: signature by key %s: %v", ErrBadSignature, Fingerprint(e), err)
		}
	}
	return signers, untrusted, notes, nil
}

// SignWithCommand runs an external signer, argv, with message on its
// standard input, and returns the detached signature it writes on its
// standard output (armored or binary), after checking that it is one.
// This is for keys that never leave a smartcard or HSM, e.g.
// "gpg --detach-sign --armor -u KEYID".
func SignWithCommand(argv []string, message []byte) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty signing command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(message)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("signing command %q: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	raw, err := dearmor(out.Bytes())
	if err == nil {
		_, err = issuers(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("signing command %q wrote no detached OpenPGP signature: %w", strings.Join(argv, " "), err)
	}
	return out.Bytes(), nil
}
