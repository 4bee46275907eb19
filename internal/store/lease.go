package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// A LeaseStore is a store that can compare and swap: what LeaseLock
// needs.
type LeaseStore interface {
	Store
	CompareAndSwapper
}

// lease is the content of a lease object.
type lease struct {
	Holder  string    `json:"holder"` // host and process, for messages
	Taken   time.Time `json:"taken"`
	Expires time.Time `json:"expires"`
}

// leasePoll is how often LeaseLock looks again at a lease held by another.
const leasePoll = 250 * time.Millisecond

// LeaseLock takes an exclusive lock that holds across machines sharing
// st: TakeLease, returning only the function that releases it.
func LeaseLock(ctx context.Context, st LeaseStore, name string, ttl time.Duration) (unlock func(), err error) {
	l, err := TakeLease(ctx, st, name, ttl)
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}

// ErrLockLost is matched by the error of Lease.Check once the lease may
// have passed to another holder.
var ErrLockLost = errors.New("lost the lock")

// A Lease is an exclusive lock taken by TakeLease.
type Lease struct {
	name   string
	ttl    time.Duration
	unlock func()

	mu         sync.Mutex
	renewed    time.Time // when the content of the last successful write was made
	validUntil time.Time // renewed + ttl - LeaseMargin(ttl), on this machine's clock
	takenOver  bool      // a renewal found the lease replaced by another holder
}

// LeaseMargin is how long before its expiry a lease of ttl counts as
// lost to its own holder (Lease.Check): room for the clocks of the
// machines to differ and for the write that Check guards to land. It is a
// third of ttl, the interval of the renewals.
func LeaseMargin(ttl time.Duration) time.Duration { return ttl / 3 }

// renewedAt records a successful write of the lease whose content (and
// expiry) was made at t.
func (l *Lease) renewedAt(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.renewed) {
		l.renewed = t
		l.validUntil = t.Add(l.ttl - LeaseMargin(l.ttl))
	}
}

// Check returns nil if the lease is still certainly held: no renewal
// found it taken over, and, on this machine's clock, its expiry less
// LeaseMargin has not passed since the last renewal that succeeded.
// Otherwise (the store could not be reached for that long, or another
// holder took the lease) it returns an error matching ErrLockLost: the
// holder must stop writing what the lock guards. A holder calls it
// before each write that makes its work visible (fencing itself), since
// another taker may take the lease over once it has expired.
func (l *Lease) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.takenOver {
		return fmt.Errorf("%w %s: another holder took it over (it was last renewed at %s)", ErrLockLost, l.name, l.renewed.Format(time.RFC3339))
	}
	if now := time.Now(); !now.Before(l.validUntil) {
		return fmt.Errorf("%w %s: it was last renewed at %s and expires %s later, and the store could not be reached to renew it since (another taker may hold it by now)",
			ErrLockLost, l.name, l.renewed.Format(time.RFC3339), l.ttl)
	}
	return nil
}

// Unlock stops renewing the lease and removes it, if it is still ours.
// It may be called more than once.
func (l *Lease) Unlock() { l.unlock() }

// TakeLease takes an exclusive lock that holds across machines sharing
// st, with no lock server and no shared file system: the object name,
// created by a conditional write (PutIf with version ""), holds the
// holder and an expiry ttl ahead, renewed every ttl/3 while the lock is
// held. Another taker waits, looking again every 250 ms, until the object
// is gone (released) or its expiry has passed on the taker's clock (a
// holder that crashed), and then takes it by a conditional replace of the
// version it read, so that two takers of a stale lease cannot both win.
// It waits until ctx is done; the error then names the holder.
//
// The lease is only as good as its renewals: a holder cut off from the
// store for longer than ttl (or clocks further apart than ttl) may lose
// it to another while it still runs. So the holder checks it
// (Lease.Check) before each write that must not race another holder's,
// and stops once it may have lost it. ttl should be well above the
// longest outage a holder is expected to survive.
func TakeLease(ctx context.Context, st LeaseStore, name string, ttl time.Duration) (*Lease, error) {
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s pid %d", host, os.Getpid())
	content := func(taken, now time.Time) []byte {
		b, _ := json.Marshal(lease{Holder: holder, Taken: taken, Expires: now.Add(ttl)})
		return b
	}
	taken := time.Now().UTC()
	var version string
	var err error
	l := &Lease{name: name, ttl: ttl}
	for {
		at := time.Now().UTC()
		version, err = st.PutIf(ctx, name, bytes.NewReader(content(taken, at)), "")
		if err == nil {
			l.renewedAt(at)
			break
		}
		if !errors.Is(err, ErrChanged) {
			return nil, fmt.Errorf("taking the lease %s: %w", name, err)
		}
		data, v, gerr := st.Get(ctx, name)
		if errors.Is(gerr, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if gerr != nil {
			return nil, fmt.Errorf("reading the lease %s: %w", name, gerr)
		}
		var cur lease
		if json.Unmarshal(data, &cur) != nil || time.Now().After(cur.Expires) {
			// Expired (or unreadable): take it over, unless another
			// taker replaced it first.
			at := time.Now().UTC()
			if version, err = st.PutIf(ctx, name, bytes.NewReader(content(taken, at)), v); err == nil {
				l.renewedAt(at)
				break
			}
			if !errors.Is(err, ErrChanged) {
				return nil, fmt.Errorf("taking over the expired lease %s: %w", name, err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the lock %s is held by %s since %s: %w", name, cur.Holder, cur.Taken.Format(time.RFC3339), ctx.Err())
		case <-time.After(leasePoll):
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // guards version
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			mu.Lock()
			at := time.Now().UTC()
			v, err := st.PutIf(context.Background(), name, bytes.NewReader(content(taken, at)), version)
			if err == nil {
				version = v
				l.renewedAt(at)
			}
			mu.Unlock()
			if errors.Is(err, ErrChanged) {
				l.mu.Lock()
				l.takenOver = true
				l.mu.Unlock()
				return // taken over: nothing left to renew
			}
		}
	}()
	var once sync.Once
	l.unlock = func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// Delete only our own lease; one taken over after it
			// expired belongs to its new holder.
			if _, v, err := st.Get(ctx, name); err == nil && v == version {
				st.Delete(ctx, name)
			}
		})
	}
	return l, nil
}
