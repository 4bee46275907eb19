package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ImportLockName is the name of a store's import lock (Locker): the lock
// an import holds while it commits, and that everything else that
// rewrites a module's version list (prune, publish, delete, a
// fill-through store's fill) holds while it does, so that no writer
// rewrites a list from a stale view of the store and loses another's
// versions.
const ImportLockName = "import"

// ErrLockBusy is matched by the error of LockImport when the wait it was
// given ran out while another holder kept the lock: an import is running.
var ErrLockBusy = errors.New("an import is running on this store")

// LeaseLocker is implemented by stores whose Locker lock is a lease that
// can be lost while its holder still runs (S3: a lease object kept alive
// by renewals, see TakeLease). LockImport then hands the lease out, so
// that the holder can check it before each write that must not race
// another holder's (Held.Check).
type LeaseLocker interface {
	LockLease(ctx context.Context, name string) (*Lease, error)
}

// A Held is an import lock that LockImport took.
type Held struct {
	unlock func()
	lease  *Lease // nil for a lock that cannot be lost
}

// Unlock releases the lock. It may be called more than once.
func (h *Held) Unlock() { h.unlock() }

// Check returns nil if the lock is still certainly held, as it always is
// for a file lock (Disk) or a lock of this process; a lease (LeaseLocker)
// may be lost, and then Check returns an error matching ErrLockLost (see
// Lease.Check).
func (h *Held) Check() error {
	if h.lease == nil {
		return nil
	}
	return h.lease.Check()
}

// Fenced reports whether the lock can be lost while held (a lease), so
// that its holder has to call Check before its writes.
func (h *Held) Fenced() bool { return h.lease != nil }

// importSem is the import lock of stores that are not a Locker: it keeps
// this process's writers apart.
var importSem = make(chan struct{}, 1)

// LockImport takes st's import lock (ImportLockName): a lease for a
// LeaseLocker, the Locker's lock for any other Locker (a file lock for
// Disk), else a lock that excludes the other goroutines of this process.
// It waits until ctx is done, or, if wait is positive, at most wait: then
// it fails with an error matching ErrLockBusy (and ctx.Err() if ctx ended
// first).
func LockImport(ctx context.Context, st Store, wait time.Duration) (*Held, error) {
	if notice, ok := ctx.Value(waitNoticeKey{}).(func()); ok {
		t := time.AfterFunc(WaitNoticeAfter, notice)
		defer t.Stop()
	}
	lctx := ctx
	if wait > 0 {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	h, err := lockImport(lctx, st)
	if err == nil {
		return h, nil
	}
	if ctx.Err() == nil && lctx.Err() != nil {
		return nil, fmt.Errorf("%w (waited %s for its lock: %v)", ErrLockBusy, wait, err)
	}
	return nil, fmt.Errorf("locking the store: %w", err)
}

// WaitNoticeAfter is how long LockImport waits for the import lock before
// it calls the notice of WithWaitNotice.
var WaitNoticeAfter = time.Second

type waitNoticeKey struct{}

// WithWaitNotice returns a context under which LockImport calls notice
// once when it has waited WaitNoticeAfter for the import lock, which
// another process (an import, publish, delete or prune) holds: a command
// can then say why it does not go on, instead of looking hung.
func WithWaitNotice(ctx context.Context, notice func()) context.Context {
	return context.WithValue(ctx, waitNoticeKey{}, notice)
}

func lockImport(ctx context.Context, st Store) (*Held, error) {
	if ll, ok := st.(LeaseLocker); ok {
		l, err := ll.LockLease(ctx, ImportLockName)
		if err != nil {
			return nil, err
		}
		return &Held{unlock: l.Unlock, lease: l}, nil // Lease.Unlock runs once
	}
	if l, ok := st.(Locker); ok {
		unlock, err := l.Lock(ctx, ImportLockName)
		if err != nil {
			return nil, err
		}
		return &Held{unlock: sync.OnceFunc(unlock)}, nil
	}
	select {
	case importSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &Held{unlock: sync.OnceFunc(func() { <-importSem })}, nil
}
