package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/modferry/modferry/internal/sign"
)

// passphraseEnv names the variable that supplies a key passphrase to
// scripts.
const passphraseEnv = "MODFERRY_KEY_PASSPHRASE"

// newPassphrase gets a passphrase for a new key: from the environment, or
// asked twice on the terminal.
func newPassphrase() ([]byte, error) {
	if p, ok := os.LookupEnv(passphraseEnv); ok {
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

// loadTrustedKeys reads the --pubkey arguments (files or directories of
// *.pub files).
func loadTrustedKeys(paths []string) ([]sign.PublicKey, error) {
	if len(paths) == 0 {
		return nil, errors.New("no trusted key: give --pubkey KEY.pub (a file or a directory of .pub files), or --allow-unsigned")
	}
	return sign.LoadPublicKeys(paths...)
}

// verifier returns a bundle signature check against keys, remembering the
// key that signed.
func verifier(keys []sign.PublicKey, keyID *string) func(manifest, sig []byte) error {
	if keys == nil {
		return nil
	}
	return func(manifest, sig []byte) error {
		id, err := sign.Verify(keys, manifest, sig)
		*keyID = id
		return err
	}
}

// writeFileAtomic writes a file via a synced temporary file and a rename.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
