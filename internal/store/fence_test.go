package store_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/storetest"
)

// TestFenceKeepsCASAndChecksHeadMove: the fenced store still compares and
// swaps (the checksum database's head moves through PutIf), and refuses
// that move, as every other write, once the lease is lost.
func TestFenceKeepsCASAndChecksHeadMove(t *testing.T) {
	ctx := context.Background()
	st := storetest.NewLeaseMem(300 * time.Millisecond)
	held, err := store.LockImport(ctx, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	f := store.Fence(st, held, "stopped")
	cas, ok := f.(store.CompareAndSwapper)
	if !ok {
		t.Fatal("the fenced store lost CompareAndSwapper")
	}
	if _, err := cas.PutIf(ctx, "sumdb/db/latest", strings.NewReader("head 1"), ""); err != nil {
		t.Fatalf("head move while the lease is held: %v", err)
	}
	st.Cut.Store(true)
	time.Sleep(400 * time.Millisecond)
	_, v, err := cas.Get(ctx, "sumdb/db/latest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cas.PutIf(ctx, "sumdb/db/latest", strings.NewReader("head 2"), v); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("head move after the lease was lost: %v", err)
	}
	for name, write := range map[string]func(string) error{
		"Put":    func(n string) error { return f.Put(ctx, n, strings.NewReader("x")) },
		"Create": func(n string) error { return f.Create(ctx, n, strings.NewReader("x")) },
	} {
		if err := write("download/a/@v/" + name); !errors.Is(err, store.ErrLockLost) {
			t.Errorf("%s after the lease was lost: %v", name, err)
		}
	}
	if b, _ := store.ReadAll(ctx, st, "sumdb/db/latest"); string(b) != "head 1" {
		t.Errorf("head = %q after a refused move", b)
	}
	if _, err := st.Open(ctx, "download/a/@v/Put"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Put wrote: %v", err)
	}
}
