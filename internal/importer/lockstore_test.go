package importer

import (
	"testing"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// TestLockStoreExcludes checks that the import lock keeps a second import
// of the same store (here another goroutine with its own lock file
// handle, as another process would have) waiting until the first lets go.
func TestLockStoreExcludes(t *testing.T) {
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockStore(st)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := lockStore(st)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a second lock returned (%v) while the first was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second lock was not taken after the first was released")
	}
}

// TestLockStoreWithoutLocker checks that a store with no cross-process
// lock (not a store.Locker) still keeps this process's imports apart.
func TestLockStoreWithoutLocker(t *testing.T) {
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := struct{ store.Store }{d}
	if _, ok := store.Store(st).(store.Locker); ok {
		t.Fatal("the wrapped store still shows store.Locker")
	}
	unlock, err := lockStore(st)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := lockStore(st)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a second lock returned (%v) while the first was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second lock was not taken after the first was released")
	}
}
