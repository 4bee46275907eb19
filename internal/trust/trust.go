// Package trust decides whether a bundle's signatures are good enough:
// which public keys are trusted (minisign keys and OpenPGP keys or key
// rings) and how many distinct trusted signers a bundle needs.
//
// The rules, for the signatures a bundle carries (MANIFEST.json.minisig,
// MANIFEST.json.asc with one or more OpenPGP signature packets):
//
//   - A signature that is malformed, or made by a trusted key but not over
//     the manifest, fails the bundle: that is tampering, whatever else
//     verifies.
//   - A signature made by a key that is not trusted is not counted, and
//     fails nothing by itself (a bundle may carry a signer this side does
//     not know, e.g. while a key is being rotated).
//   - The bundle passes when at least Require distinct trusted keys signed
//     it (one by default; two for a four-eyes release).
package trust

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/pgp"
	"github.com/modferry/modferry/internal/sign"
)

// ErrTooFewSigners reports a bundle signed by fewer trusted keys than the
// policy requires.
var ErrTooFewSigners = errors.New("too few trusted signatures")

// Keys are the trusted public keys of both kinds.
type Keys struct {
	Minisign []sign.PublicKey
	OpenPGP  pgp.KeyRing
}

// Count returns the number of keys.
func (k *Keys) Count() int { return len(k.Minisign) + k.OpenPGP.Len() }

// keyExts are the file name endings a directory of keys is read for.
var keyExts = []string{".pub", ".asc", ".gpg", ".pgp"}

// Load reads trusted keys from files and directories. A file holds a
// minisign public key, or OpenPGP public keys (armored, or binary as
// `gpg --export` writes them). A directory contributes every *.pub, *.asc,
// *.gpg and *.pgp file directly inside it.
func Load(paths ...string) (*Keys, error) {
	files, err := sign.KeyFiles(paths, keyExts...)
	if err != nil {
		return nil, err
	}
	k := &Keys{}
	var minisignFiles []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if pgp.LooksLikeKey(data) {
			ring, err := pgp.ParseKeyRing(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			k.OpenPGP.Add(ring)
			continue
		}
		minisignFiles = append(minisignFiles, f)
	}
	if len(minisignFiles) > 0 {
		keys, err := sign.LoadPublicKeys(minisignFiles...)
		if err != nil {
			return nil, err
		}
		k.Minisign = keys
	}
	if k.Count() == 0 {
		return nil, fmt.Errorf("%w in %s", sign.ErrNoPublicKeys, strings.Join(paths, ", "))
	}
	return k, nil
}

// Signer is one trusted key whose signature verified.
type Signer struct {
	Kind  string `json:"kind"`  // "minisign" or "openpgp"
	KeyID string `json:"keyId"` // minisign key ID, or OpenPGP fingerprint
}

func (s Signer) String() string { return s.Kind + ":" + s.KeyID }

// Policy is what a bundle's signatures must satisfy.
type Policy struct {
	Keys *Keys
	// Require is the number of distinct trusted signers needed; 0 means 1.
	Require int
}

// Verify checks sigs against the policy (see the package documentation)
// and returns the trusted signers. Errors wrap sign.ErrBadSignature or
// pgp.ErrBadSignature for a bad signature, and ErrTooFewSigners (with
// sign.ErrUnknownKey when no trusted key signed at all) otherwise.
func (p Policy) Verify(manifest []byte, sigs bundle.Signatures) ([]Signer, error) {
	need := max(p.Require, 1)
	var signers []Signer
	var untrusted []string
	if sigs.Minisign != nil {
		id, err := sign.Verify(p.Keys.Minisign, manifest, sigs.Minisign)
		switch {
		case err == nil:
			signers = append(signers, Signer{"minisign", id})
		case errors.Is(err, sign.ErrUnknownKey):
			untrusted = append(untrusted, "minisign "+err.Error())
		default:
			return nil, fmt.Errorf("%s: %w", bundle.SignatureName, err)
		}
	}
	if sigs.OpenPGP != nil {
		ids, n, notes, err := pgp.VerifyNotes(p.Keys.OpenPGP, manifest, sigs.OpenPGP)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bundle.OpenPGPSignatureName, err)
		}
		untrusted = append(untrusted, notes...)
		for _, id := range ids {
			signers = append(signers, Signer{"openpgp", id})
		}
		if n > 0 {
			untrusted = append(untrusted, fmt.Sprintf("%d OpenPGP signature(s) by keys not trusted here", n))
		}
	}
	// One signer counts once, however many times its key is trusted
	// (a key file and its other encoding in a key directory) or its
	// signature appears (a repeated packet): --require-signatures counts
	// people, not copies.
	signers = uniqueSigners(signers)
	if len(signers) >= need {
		return signers, nil
	}
	detail := ""
	if len(untrusted) > 0 {
		detail = ": " + strings.Join(untrusted, "; ")
	}
	if len(signers) == 0 {
		return nil, &tooFewError{msg: "no trusted key signed this bundle" + detail, unknown: true}
	}
	return nil, &tooFewError{msg: fmt.Sprintf("%d trusted signer(s) (%s), %d required%s", len(signers), joinSigners(signers), need, detail)}
}

// tooFewError is ErrTooFewSigners, and sign.ErrUnknownKey when no trusted
// key signed at all, with a message that says each only once.
type tooFewError struct {
	msg     string
	unknown bool
}

func (e *tooFewError) Error() string { return e.msg }

func (e *tooFewError) Is(target error) bool {
	return target == ErrTooFewSigners || e.unknown && target == sign.ErrUnknownKey
}

// SignerIDs returns the signers as "kind:ID" joined with commas, for logs
// and the audit trail.
func SignerIDs(s []Signer) string { return joinSigners(s) }

func joinSigners(s []Signer) string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.String()
	}
	return strings.Join(out, ", ")
}

// uniqueSigners returns signers without repeats, in order.
func uniqueSigners(signers []Signer) []Signer {
	seen := make(map[Signer]bool, len(signers))
	out := signers[:0]
	for _, s := range signers {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
