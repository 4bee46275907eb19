package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"strings"
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

// cutStore is a Mem whose conditional writes fail while cut is set, as
// those of an object store out of reach do: a lease holder cannot renew.
type cutStore struct {
	*Mem
	cut atomic.Bool
}

func (c *cutStore) PutIf(ctx context.Context, name string, r io.Reader, version string) (string, error) {
	if c.cut.Load() {
		return "", ErrUnavailable
	}
	return c.Mem.PutIf(ctx, name, r, version)
}

// TestLeaseCheck: a lease that keeps being renewed stays valid past its
// ttl; once renewals fail for longer than its ttl less LeaseMargin, its
// holder's Check fails with ErrLockLost before another taker can take the
// lease over; and a holder whose lease was taken over learns it at the
// next renewal.
func TestLeaseCheck(t *testing.T) {
	ctx := context.Background()
	const ttl = 600 * time.Millisecond
	st := &cutStore{Mem: NewMem()}
	l, err := TakeLease(ctx, st, "import.lock", ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	time.Sleep(2 * ttl)
	if err := l.Check(); err != nil {
		t.Fatalf("a renewed lease fails its check: %v", err)
	}
	st.cut.Store(true)
	cutAt := time.Now()
	// Another taker may take the lease once ttl has passed since the
	// last renewal; the holder must know before that.
	var lost time.Time
	for time.Since(cutAt) < 2*ttl {
		if err := l.Check(); err != nil {
			if !errors.Is(err, ErrLockLost) || !strings.Contains(err.Error(), "renewed") {
				t.Fatalf("Check of a lease not renewed: %v", err)
			}
			lost = time.Now()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if lost.IsZero() {
		t.Fatalf("a lease not renewed for %s (ttl %s) still passes its check", 2*ttl, ttl)
	}
	// (150 ms for the polling above and a loaded machine.)
	if d := lost.Sub(cutAt); d > ttl-LeaseMargin(ttl)+150*time.Millisecond {
		t.Errorf("the check failed %s after the last renewal could have been made, later than ttl less the margin (%s)", d, ttl-LeaseMargin(ttl))
	}
	st.cut.Store(false)

	// Taken over: another holder replaced the lease object.
	l2, err := TakeLease(ctx, st.Mem, "other.lock", ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock()
	_, v, err := st.Get(ctx, "other.lock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Mem.PutIf(ctx, "other.lock", strings.NewReader(`{"holder":"thief"}`), v); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * ttl)
	for l2.Check() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := l2.Check(); !errors.Is(err, ErrLockLost) || !strings.Contains(err.Error(), "took it over") {
		t.Fatalf("Check of a lease taken over: %v", err)
	}
}
