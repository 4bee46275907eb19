package audit

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// dirLock serializes writers to one directory: a one-slot semaphore for the
// goroutines of this process (flock locks belong to the open file, which
// all of them share) and flock(2) on the lock file for other processes.
type dirLock struct {
	sem chan struct{}
	f   *os.File
}

func openDirLock(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &dirLock{sem: make(chan struct{}, 1), f: f}, nil
}

// lock takes the lock, shared or exclusive across processes (always
// exclusive within the process), and returns the function that releases it.
// It gives up when ctx is done.
func (l *dirLock) lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
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

func (l *dirLock) close() error { return l.f.Close() }

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
