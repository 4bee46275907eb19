// Package safefile holds the file primitives modferry's small state
// files need: a directory lock that serializes writers across goroutines
// and processes, and an atomic whole-file replace. Both work on every
// platform the go command does (the lock through github.com/gofrs/flock).
package safefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// DirLock serializes writers to one directory: a one-slot semaphore for the
// goroutines of this process and a file lock on the lock file for other
// processes (flock(2) on Unix, LockFileEx on Windows, through
// github.com/gofrs/flock).
type DirLock struct {
	sem chan struct{}
	f   *flock.Flock // nil for a read-only directory without a lock file
	ro  error        // why the lock is read-only; nil if it is not
}

// ErrReadOnly is wrapped by the error Lock returns for an exclusive lock on
// a read-only directory.
var ErrReadOnly = errors.New("read-only")

// IsReadOnly reports whether err says a file cannot be written because its
// file system is mounted read-only or permissions forbid it.
func IsReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission)
}

// OpenDirLock opens (creating it, mode 0600) the lock file at path.
//
// If the directory is read-only (read-only media, or no write permission),
// it opens the lock file for reading, so that readers still take shared
// locks, or, if there is no lock file, takes no lock at all: nobody can
// write there anyway. Such a DirLock refuses exclusive locks with an error
// wrapping ErrReadOnly.
func OpenDirLock(path string) (*DirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		if err := f.Close(); err != nil {
			return nil, err
		}
		return &DirLock{sem: make(chan struct{}, 1), f: flock.New(path, flock.SetPermissions(0o600))}, nil
	}
	if !IsReadOnly(err) {
		return nil, err
	}
	l := &DirLock{sem: make(chan struct{}, 1), ro: err}
	rf, rerr := os.Open(path)
	if rerr != nil {
		if !errors.Is(rerr, fs.ErrNotExist) {
			return nil, err
		}
		return l, nil
	}
	rf.Close()
	l.f = flock.New(path, flock.SetFlag(os.O_RDONLY))
	return l, nil
}

// ReadOnly reports whether the directory was found read-only: Lock then
// gives only shared locks.
func (l *DirLock) ReadOnly() bool { return l.ro != nil }

// Lock takes the lock, shared or exclusive across processes (always
// exclusive within the process), and returns the function that releases it.
// It gives up when ctx is done.
func (l *DirLock) Lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l.ro != nil {
		if exclusive {
			<-l.sem
			return nil, fmt.Errorf("%w: %v", ErrReadOnly, l.ro)
		}
		if l.f == nil {
			return func() { <-l.sem }, nil
		}
	}
	if err := lockFile(ctx, l.f, exclusive); err != nil {
		<-l.sem
		return nil, err
	}
	return func() {
		_ = l.f.Unlock()
		<-l.sem
	}, nil
}

// Close releases the lock file.
func (l *DirLock) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// lockFile takes a file lock, polling so that it can stop when ctx is
// done; with a context that is never done it just blocks.
func lockFile(ctx context.Context, f *flock.Flock, exclusive bool) error {
	if ctx.Done() == nil {
		if exclusive {
			return f.Lock()
		}
		return f.RLock()
	}
	try := f.TryRLockContext
	if exclusive {
		try = f.TryLockContext
	}
	_, err := try(ctx, 2*time.Millisecond)
	return err
}

// LockFile blocks until it holds an exclusive lock on the file at path
// (creating it with mode perm), and returns the function that releases it.
func LockFile(path string, perm os.FileMode) (unlock func(), err error) {
	f := flock.New(path, flock.SetPermissions(perm))
	if err := f.Lock(); err != nil {
		return nil, err
	}
	return func() { _ = f.Unlock() }, nil
}

// WriteAtomic replaces path with data (mode perm): a temporary file in the same
// directory, fsync, rename, fsync of the directory. A reader sees the old
// content or the new, never a mix.
func WriteAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making renames in it durable. Windows
// cannot flush a directory handle (NTFS journals renames itself).
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
