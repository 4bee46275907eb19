package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLeaseLockExcludes has several takers, as several machines would,
// hold one lease in turn: never two at once, and the lease object is gone
// once the last lets go.
func TestLeaseLockExcludes(t *testing.T) {
	ctx := context.Background()
	m := NewMem()
	var held, overlaps atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				unlock, err := LeaseLock(ctx, m, "import.lock", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if held.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
				held.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("the lease was held by two takers at once %d times", overlaps.Load())
	}
	if _, _, err := m.Get(ctx, "import.lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lease left behind: %v", err)
	}
}

// TestLeaseLockStale: a lease whose holder stopped renewing it (a crash)
// is taken over once expired; one still renewed makes the taker wait,
// and the error of a taker that gives up names the holder.
func TestLeaseLockStale(t *testing.T) {
	ctx := context.Background()
	m := NewMem()
	b, _ := json.Marshal(lease{Holder: "crashed pid 1", Expires: time.Now().Add(-time.Second)})
	if _, err := m.PutIf(ctx, "import.lock", bytes.NewReader(b), ""); err != nil {
		t.Fatal(err)
	}
	unlock, err := LeaseLock(ctx, m, "import.lock", 300*time.Millisecond)
	if err != nil {
		t.Fatalf("an expired lease was not taken over: %v", err)
	}
	// Held and renewed past its ttl: another taker waits in vain.
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := LeaseLock(tctx, m, "import.lock", 300*time.Millisecond); err == nil || !bytes.Contains([]byte(err.Error()), []byte("held by")) {
		t.Fatalf("a renewed lease was taken: %v", err)
	}
	unlock()
	unlock2, err := LeaseLock(ctx, m, "import.lock", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}
