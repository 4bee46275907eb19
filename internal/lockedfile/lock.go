// Package lockedfile holds the two file primitives modferry's small
// state files need: a directory lock that serializes writers across
// goroutines and processes, and an atomic whole-file replace.
package lockedfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DirLock serializes writers to one directory: a one-slot semaphore for the
// goroutines of this process (flock locks belong to the open file, which
// all of them share) and flock(2) on the lock file for other processes.
type DirLock struct {
	sem chan struct{}
	f   *os.File // nil for a read-only directory without a lock file
	ro  error    // why the lock is read-only; nil if it is not
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
		return &DirLock{sem: make(chan struct{}, 1), f: f}, nil
	}
	if !IsReadOnly(err) {
		return nil, err
	}
	f, rerr := os.Open(path)
	if rerr != nil {
		if !errors.Is(rerr, fs.ErrNotExist) {
			return nil, err
		}
		f = nil
	}
	return &DirLock{sem: make(chan struct{}, 1), f: f, ro: err}, nil
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
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := flock(ctx, int(l.f.Fd()), how); err != nil {
		<-l.sem
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
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

// flock takes a flock(2) lock, polling with a growing sleep so that it can
// stop when ctx is done; with a context that is never done it just blocks.
func flock(ctx context.Context, fd, how int) error {
	if ctx.Done() == nil {
		return retryEINTR(func() error { return syscall.Flock(fd, how) })
	}
	wait := time.Millisecond
	for {
		err := retryEINTR(func() error { return syscall.Flock(fd, how|syscall.LOCK_NB) })
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
}

func retryEINTR(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
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

// SyncDir fsyncs a directory, making renames in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
