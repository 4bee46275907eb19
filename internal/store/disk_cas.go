package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/modferry/modferry/internal/safefile"
)

// casLockName is the lock file that serializes Disk's PutIf calls across
// goroutines and processes. Its directory starts with TempPrefix, so that
// it is never listed and no object name can reach it, and CleanTemp
// removes only files, never directories or what they hold.
var casLockName = filepath.Join(TempPrefix+"locks", "cas")

// Get implements CompareAndSwapper. The version is the SHA-256 of the
// content.
func (d *Disk) Get(ctx context.Context, name string) ([]byte, string, error) {
	data, err := ReadAll(ctx, d, name)
	if err != nil {
		return nil, "", err
	}
	return data, contentVersion(data), nil
}

// PutIf implements CompareAndSwapper: under an exclusive file lock, it
// compares the version of the current content and then writes as Put does
// (temporary file, sync, rename).
func (d *Disk) PutIf(ctx context.Context, name string, r io.Reader, version string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	lockPath := filepath.Join(d.root, casLockName)
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return "", err
	}
	lock, err := safefile.OpenDirLock(lockPath)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	unlock, err := lock.Lock(ctx, true)
	if err != nil {
		return "", err
	}
	defer unlock()

	cur, err := ReadAll(ctx, d, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if version != "" {
			return "", &fs.PathError{Op: "putif", Path: name, Err: ErrChanged}
		}
	case err != nil:
		return "", err
	case version == "" || contentVersion(cur) != version:
		return "", &fs.PathError{Op: "putif", Path: name, Err: ErrChanged}
	}
	h := sha256.New()
	if err := d.write(ctx, name, io.TeeReader(r, h), false); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func contentVersion(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
