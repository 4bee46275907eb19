// Package sign reads and writes minisign keys and signatures.
//
// Keys and signatures are in the file formats of the stock minisign tool
// (https://jedisct1.github.io/minisign/), so that a bundle signed by modferry
// verifies with `minisign -V` and a key made with `minisign -G` works with
// modferry:
//
//   - A secret key file holds one base64 line after an untrusted comment.
//     With a passphrase it is encrypted as minisign does (scrypt with the
//     libsodium "sensitive" limits, 1 GiB of memory, XOR with a BLAKE2b-256
//     checksum). With an empty passphrase it is written unencrypted, exactly
//     as `minisign -G -W` writes it (KDF algorithm 0, zero salt and checksum).
//   - A public key file is "untrusted comment: minisign public key ID" and
//     the base64 key.
//   - Signatures are Ed25519 over the BLAKE2b-512 digest of the message
//     (minisign's default "ED" prehashed mode), with a signed trusted comment.
//
// Verify is strict about encoding: a signature must be in the canonical text
// form minisign writes (four LF-terminated lines, canonical base64) and its
// untrusted comment, which no key authenticates, must be
// [UntrustedComment]. So any change to the signature bytes is rejected, not
// only changes to the signed parts.
package sign

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
)

// UntrustedComment is the untrusted comment of every signature: the one the
// stock minisign tool writes by default.
const UntrustedComment = "signature from minisign secret key"

var (
	// ErrBadSignature reports a signature that is malformed or does not
	// verify with the key it names.
	ErrBadSignature = errors.New("signature verification failed")
	// ErrUnknownKey reports a well-formed signature made by a key that is
	// not among the trusted public keys.
	ErrUnknownKey = errors.New("signature made by an untrusted key")
	// ErrWrongPassphrase reports a secret key that does not decrypt.
	ErrWrongPassphrase = errors.New("wrong passphrase for secret key")
	// ErrNoPublicKeys reports that LoadPublicKeys found no key.
	ErrNoPublicKeys = errors.New("no public keys found")
)

// PrivateKey is a minisign secret key.
type PrivateKey struct {
	key minisign.PrivateKey
}

// ID returns the key ID as minisign prints it (upper-case hex).
func (k PrivateKey) ID() string { return keyID(k.key.ID()) }

// Public returns the public half of k.
func (k PrivateKey) Public() PublicKey {
	return PublicKey{key: k.key.Public().(minisign.PublicKey)}
}

// PublicKey is a minisign public key.
type PublicKey struct {
	key minisign.PublicKey
}

// ID returns the key ID as minisign prints it (upper-case hex).
func (k PublicKey) ID() string { return keyID(k.key.ID()) }

// String returns the base64 form of the key, as `minisign -P` takes it.
func (k PublicKey) String() string { return k.key.String() }

// MarshalText returns the content of a minisign public key file.
func (k PublicKey) MarshalText() ([]byte, error) {
	return []byte("untrusted comment: minisign public key " + k.ID() + "\n" + k.key.String() + "\n"), nil
}

func keyID(id uint64) string { return strings.ToUpper(strconv.FormatUint(id, 16)) }

// GenerateKey returns the contents of a new secret key file and of its public
// key file. The secret key is encrypted with passphrase, or, when passphrase
// is empty, written unencrypted like `minisign -G -W` does.
func GenerateKey(passphrase []byte) (priv, pub []byte, err error) {
	pk, sk, err := minisign.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	if len(passphrase) == 0 {
		priv, err = sk.MarshalText()
	} else {
		priv, err = minisign.EncryptKey(string(passphrase), sk)
	}
	if err != nil {
		return nil, nil, err
	}
	pub, err = PublicKey{key: pk}.MarshalText()
	if err != nil {
		return nil, nil, err
	}
	return append(priv, '\n'), pub, nil
}

// ParsePrivateKey decodes a secret key file. passphrase is called only when
// the key is encrypted; it may be nil when the caller has no way to ask.
func ParsePrivateKey(data []byte, passphrase func() ([]byte, error)) (PrivateKey, error) {
	data = bytes.TrimSpace(data)
	if minisign.IsEncrypted(data) {
		if passphrase == nil {
			return PrivateKey{}, errors.New("secret key is encrypted and no passphrase is available")
		}
		pw, err := passphrase()
		if err != nil {
			return PrivateKey{}, fmt.Errorf("reading passphrase: %w", err)
		}
		k, err := minisign.DecryptKey(string(pw), data)
		if err != nil {
			return PrivateKey{}, ErrWrongPassphrase
		}
		return PrivateKey{key: k}, nil
	}
	var k minisign.PrivateKey
	if err := k.UnmarshalText(data); err != nil {
		return PrivateKey{}, fmt.Errorf("invalid secret key: %w", err)
	}
	return PrivateKey{key: k}, nil
}

// LoadPrivateKey reads the secret key file at path; see [ParsePrivateKey].
func LoadPrivateKey(path string, passphrase func() ([]byte, error)) (PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PrivateKey{}, err
	}
	k, err := ParsePrivateKey(data, passphrase)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Sign returns the content of a .minisig file for message, with a trusted
// comment holding the current time.
func Sign(key PrivateKey, message []byte) ([]byte, error) {
	return SignWithComment(key, message, "timestamp:"+strconv.FormatInt(time.Now().Unix(), 10)+"\thashed")
}

// SignWithComment is like Sign with the given trusted comment, which the
// signature authenticates. It must be a single line.
func SignWithComment(key PrivateKey, message []byte, trustedComment string) ([]byte, error) {
	if strings.ContainsAny(trustedComment, "\r\n") {
		return nil, errors.New("trusted comment must be a single line")
	}
	r := minisign.NewReader(bytes.NewReader(message))
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	return r.SignWithComments(key.key, trustedComment, UntrustedComment), nil
}

// ParsePublicKey decodes a public key file, or a bare base64 key as
// `minisign -P` takes it.
func ParsePublicKey(data []byte) (PublicKey, error) {
	var k minisign.PublicKey
	if err := k.UnmarshalText(bytes.TrimSpace(data)); err != nil {
		return PublicKey{}, err
	}
	return PublicKey{key: k}, nil
}

// LoadPublicKeys reads public keys from the given paths. A path naming a
// directory contributes every "*.pub" file directly inside it. Keys that
// appear twice are kept once; two different keys with one ID are an error.
func LoadPublicKeys(paths ...string) ([]PublicKey, error) {
	files, err := KeyFiles(paths, ".pub")
	if err != nil {
		return nil, err
	}
	var keys []PublicKey
	byID := make(map[uint64]PublicKey)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		k, err := ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if old, ok := byID[k.key.ID()]; ok {
			if !old.key.Equal(k.key) {
				return nil, fmt.Errorf("%s: a different key with ID %s is already loaded", f, k.ID())
			}
			continue
		}
		byID[k.key.ID()] = k
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoPublicKeys, strings.Join(paths, ", "))
	}
	return keys, nil
}

// KeyFiles expands key paths: a file stands for itself, a directory for
// the files (not directories) directly inside it whose names end in one of exts, in
// name order.
func KeyFiles(paths []string, exts ...string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p) // sorted by name
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && slices.ContainsFunc(exts, func(ext string) bool { return strings.HasSuffix(e.Name(), ext) }) {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	return files, nil
}

// Verify checks sig, the content of a .minisig file, against message and
// reports the ID of the key that verified it. It succeeds if any of keys
// verifies the signature; see the package documentation for the encoding
// rules it enforces.
func Verify(keys []PublicKey, message, sig []byte) (keyID string, err error) {
	s, err := parseSignature(sig)
	if err != nil {
		return "", err
	}
	found := false
	for _, k := range keys {
		if k.key.ID() != s.KeyID {
			continue
		}
		found = true
		if minisign.Verify(k.key, message, sig) {
			return k.ID(), nil
		}
	}
	if !found {
		return "", fmt.Errorf("%w (key ID %s)", ErrUnknownKey, strings.ToUpper(strconv.FormatUint(s.KeyID, 16)))
	}
	return "", ErrBadSignature
}

// TrustedComment returns the trusted comment of sig without verifying it.
func TrustedComment(sig []byte) (string, error) {
	s, err := parseSignature(sig)
	if err != nil {
		return "", err
	}
	return s.TrustedComment, nil
}

// maxSignature bounds a signature file: four lines, one of them a comment.
const maxSignature = 16 << 10

func parseSignature(sig []byte) (minisign.Signature, error) {
	var s minisign.Signature
	if len(sig) > maxSignature {
		return s, fmt.Errorf("%w: signature file too large", ErrBadSignature)
	}
	if err := s.UnmarshalText(sig); err != nil {
		return s, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if s.UntrustedComment != UntrustedComment {
		return s, fmt.Errorf("%w: untrusted comment is %q, want %q", ErrBadSignature, s.UntrustedComment, UntrustedComment)
	}
	canon, err := s.MarshalText()
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if !bytes.Equal(canon, sig) {
		return s, fmt.Errorf("%w: signature is not in canonical minisign encoding", ErrBadSignature)
	}
	return s, nil
}
