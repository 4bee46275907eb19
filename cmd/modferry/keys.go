package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/pgp"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/trust"
)

// passphraseEnv names the variable that supplies a key passphrase to
// scripts.
const passphraseEnv = "MODFERRY_KEY_PASSPHRASE"

// newPassphrase gets a passphrase for a new key: from the environment, or
// asked twice on the terminal.
func newPassphrase() ([]byte, error) {
	if p, ok := os.LookupEnv(passphraseEnv); ok {
		if p == "" {
			// A CI secret that did not arrive: an empty passphrase
			// would leave the key unencrypted without anyone asking.
			return nil, fmt.Errorf("$%s is set but empty: set the passphrase, or give --no-passphrase for an unencrypted key", passphraseEnv)
		}
		return []byte(p), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, fmt.Errorf("no passphrase: set $%s, run on a terminal, or give --no-passphrase", passphraseEnv)
	}
	p1, err := askPassphrase("Passphrase for the new key: ")
	if err != nil {
		return nil, err
	}
	p2, err := askPassphrase("Again: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("the passphrases differ")
	}
	return p1, nil
}

// keyPassphrase supplies the passphrase of an encrypted key.
func keyPassphrase() ([]byte, error) {
	if p, ok := os.LookupEnv(passphraseEnv); ok {
		return []byte(p), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, fmt.Errorf("the key is encrypted: set $%s or run on a terminal", passphraseEnv)
	}
	return askPassphrase("Passphrase: ")
}

func askPassphrase(prompt string) ([]byte, error) {
	fmt.Fprint(os.Stderr, prompt)
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return p, err
}

// loadTrustedKeys reads the --pubkey arguments (minisign .pub files,
// OpenPGP public keys or key rings, or directories of them).
func loadTrustedKeys(paths []string) (*trust.Keys, error) {
	if len(paths) == 0 {
		return nil, usagef("no trusted key: give --pubkey KEY.pub (a minisign or OpenPGP public key, or a directory of them), or --allow-unsigned")
	}
	return trust.Load(paths...)
}

// verifier returns a bundle signature check for policy, remembering the
// trusted keys that signed; nil without keys.
func verifier(policy trust.Policy, signers *[]trust.Signer) func([]byte, bundle.Signatures) error {
	if policy.Keys == nil {
		return nil
	}
	return func(manifest []byte, sigs bundle.Signatures) error {
		s, err := policy.Verify(manifest, sigs)
		*signers = s
		return err
	}
}

// bundleSigner returns the signing function for export: each key file is
// a minisign secret key (at most one) or an armored OpenPGP secret key,
// each command an external OpenPGP signer (e.g. gpg --detach-sign --armor
// -u KEYID) that reads the manifest on stdin and writes a detached
// signature on stdout. All OpenPGP signatures go into MANIFEST.json.asc.
func bundleSigner(keyFiles, commands []string) (func([]byte) (bundle.Signatures, error), error) {
	var minisignKey *sign.PrivateKey
	var pgpKeys []*pgp.PrivateKey
	for _, f := range keyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if pgp.IsArmored(data) || pgp.LooksLikeKey(data) {
			k, err := pgp.ParsePrivateKey(data, keyPassphrase)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			pgpKeys = append(pgpKeys, k)
			continue
		}
		if minisignKey != nil {
			return nil, fmt.Errorf("%s: a bundle carries one minisign signature; give one minisign key (add OpenPGP keys or --sign-cmd for more signers)", f)
		}
		k, err := sign.ParsePrivateKey(data, keyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		minisignKey = &k
	}
	var argvs [][]string
	for _, c := range commands {
		argv, err := splitCommand(c)
		if err != nil {
			return nil, fmt.Errorf("--sign-cmd %q: %w", c, err)
		}
		argvs = append(argvs, argv)
	}
	return func(manifest []byte) (bundle.Signatures, error) {
		var sigs bundle.Signatures
		if minisignKey != nil {
			s, err := sign.Sign(*minisignKey, manifest)
			if err != nil {
				return sigs, err
			}
			sigs.Minisign = s
		}
		var pgpSigs [][]byte
		for _, k := range pgpKeys {
			s, err := pgp.Sign(k, manifest)
			if err != nil {
				return sigs, fmt.Errorf("OpenPGP key %s: %w", k.ID(), err)
			}
			pgpSigs = append(pgpSigs, s)
		}
		for _, argv := range argvs {
			s, err := pgp.SignWithCommand(argv, manifest)
			if err != nil {
				return sigs, err
			}
			pgpSigs = append(pgpSigs, s)
		}
		if len(pgpSigs) > 0 {
			s, err := pgp.Combine(pgpSigs...)
			if err != nil {
				return sigs, err
			}
			sigs.OpenPGP = s
		}
		return sigs, nil
	}, nil
}

// splitCommand splits a command line into words as a POSIX shell would
// for plain words and '…' or "…" quotes (with \ escaping in and outside
// double quotes), without expanding anything: --sign-cmd runs no shell.
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated " quote`)
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}
