package safefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
// done — every 2 ms at first, backing off to every 50 ms, so that a long
// wait (for an import's commit) costs next to no CPU; with a context that
// is never done it just blocks.
func lockFile(ctx context.Context, f *flock.Flock, exclusive bool) error {
	if ctx.Done() == nil {
		if exclusive {
			return f.Lock()
		}
		return f.RLock()
	}
	try := f.TryRLock
	if exclusive {
		try = f.TryLock
	}
	delay := 2 * time.Millisecond
	for {
		if ok, err := try(); err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}
