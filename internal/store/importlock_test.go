package store

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestLockImportWaitNotice checks that a writer waiting for another's
// import lock is told so once, and that one that gets the lock at once is
// not.
func TestLockImportWaitNotice(t *testing.T) {
	old := WaitNoticeAfter
	WaitNoticeAfter = 20 * time.Millisecond
	t.Cleanup(func() { WaitNoticeAfter = old })

	st, err := NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var notices atomic.Int32
	ctx := WithWaitNotice(context.Background(), func() { notices.Add(1) })

	first, err := LockImport(ctx, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * WaitNoticeAfter)
	if n := notices.Load(); n != 0 {
		t.Fatalf("a free lock gave %d notices, want 0", n)
	}

	// A second holder waits while the first keeps the lock: one notice,
	// then the lock once the first lets go.
	got := make(chan error, 1)
	go func() {
		h, err := LockImport(ctx, st, 0)
		if err == nil {
			h.Unlock()
		}
		got <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for notices.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := notices.Load(); n != 1 {
		t.Fatalf("a waiting writer got %d notices, want 1", n)
	}
	select {
	case err := <-got:
		t.Fatalf("the second LockImport returned (%v) while the first held the lock", err)
	default:
	}
	first.Unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if n := notices.Load(); n != 1 {
		t.Fatalf("%d notices after the wait, want 1", n)
	}

	// A bounded wait that runs out still fails with ErrLockBusy.
	held, err := LockImport(ctx, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	if _, err := LockImport(ctx, st, 2*WaitNoticeAfter); !errors.Is(err, ErrLockBusy) {
		t.Fatalf("bounded wait: %v, want ErrLockBusy", err)
	}
	if n := notices.Load(); n != 2 {
		t.Fatalf("%d notices after a bounded wait, want 2", n)
	}
}
