package store

import (
	"context"
	"fmt"
	"io"
)

// Fence returns s, or, if held can be lost while held (a lease), s
// wrapped so that every write first checks that the lock is still held
// and fails with an error matching ErrLockLost if not: the writer stops
// before the write, so that what it wrote under the lock stays what it
// was when the lock was lost, and nobody who took the lock since sees it
// overwritten. stopped says what stopped, and what to do, in the error
// ("the import stopped there ...: import the bundle again"). The wrapper
// keeps CompareAndSwapper (the checksum database's head moves through
// it); a store whose lock cannot be lost is returned as it is, with all
// its capabilities.
func Fence(s Store, held *Held, stopped string) Store {
	if !held.Fenced() {
		return s
	}
	f := fenced{Store: s, held: held, stopped: stopped}
	if cas, ok := s.(CompareAndSwapper); ok {
		return fencedCAS{f, cas}
	}
	return f
}

// fenced checks its lock before every write.
type fenced struct {
	Store
	held    *Held
	stopped string
}

func (f fenced) check(name string) error {
	if err := f.held.Check(); err != nil {
		return fmt.Errorf("lost the import lease before writing %s: %w; %s", name, err, f.stopped)
	}
	return nil
}

func (f fenced) Put(ctx context.Context, name string, r io.Reader) error {
	if err := f.check(name); err != nil {
		return err
	}
	return f.Store.Put(ctx, name, r)
}

func (f fenced) Create(ctx context.Context, name string, r io.Reader) error {
	if err := f.check(name); err != nil {
		return err
	}
	return f.Store.Create(ctx, name, r)
}

func (f fenced) Delete(ctx context.Context, name string) error {
	if err := f.check(name); err != nil {
		return err
	}
	return f.Store.Delete(ctx, name)
}

// fencedCAS is a fenced store of a CompareAndSwapper.
type fencedCAS struct {
	fenced
	cas CompareAndSwapper
}

func (f fencedCAS) Get(ctx context.Context, name string) ([]byte, string, error) {
	return f.cas.Get(ctx, name)
}

func (f fencedCAS) PutIf(ctx context.Context, name string, r io.Reader, version string) (string, error) {
	if err := f.check(name); err != nil {
		return "", err
	}
	return f.cas.PutIf(ctx, name, r, version)
}
