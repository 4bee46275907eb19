package importer

import (
	"context"
	"fmt"
	"io"

	"github.com/modferry/modferry/internal/store"
)

// fence returns st, or, if held can be lost while held (a lease), st
// wrapped so that every write first checks that the lock is still held
// and fails with an error matching store.ErrLockLost if not: the commit
// stops before the write, so that each version stays whole or absent and
// the import is not recorded (importing the bundle again finishes it).
// The wrapper keeps CompareAndSwapper (the checksum database's head moves
// through it); a store whose lock cannot be lost is returned as it is,
// with all its capabilities.
func fence(st store.Store, held *store.Held) store.Store {
	if !held.Fenced() {
		return st
	}
	f := fencedStore{Store: st, held: held}
	if cas, ok := st.(store.CompareAndSwapper); ok {
		return fencedCAS{f, cas}
	}
	return f
}

// fencedStore checks its lock before every write.
type fencedStore struct {
	store.Store
	held *store.Held
}

func (f fencedStore) check(name string) error {
	if err := f.held.Check(); err != nil {
		return fmt.Errorf("lost the import lease before writing %s: %w; the import stopped there (every version it made visible is whole, and it is not recorded): import the bundle again", name, err)
	}
	return nil
}

func (f fencedStore) Put(ctx context.Context, name string, r io.Reader) error {
	if err := f.check(name); err != nil {
		return err
	}
	return f.Store.Put(ctx, name, r)
}

func (f fencedStore) Create(ctx context.Context, name string, r io.Reader) error {
	if err := f.check(name); err != nil {
		return err
	}
	return f.Store.Create(ctx, name, r)
}

func (f fencedStore) Delete(ctx context.Context, name string) error {
	if err := f.check(name); err != nil {
		return err
	}
	return f.Store.Delete(ctx, name)
}

// fencedCAS is a fencedStore of a store.CompareAndSwapper.
type fencedCAS struct {
	fencedStore
	cas store.CompareAndSwapper
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
