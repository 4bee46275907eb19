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
// it to another while it still runs. ttl should be well above the
// longest outage a holder is expected to survive.
func LeaseLock(ctx context.Context, st LeaseStore, name string, ttl time.Duration) (unlock func(), err error) {
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s pid %d", host, os.Getpid())
	content := func(taken time.Time) []byte {
		now := time.Now().UTC()
		b, _ := json.Marshal(lease{Holder: holder, Taken: taken, Expires: now.Add(ttl)})
		return b
	}
	taken := time.Now().UTC()
	var version string
	for {
		version, err = st.PutIf(ctx, name, bytes.NewReader(content(taken)), "")
		if err == nil {
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
		var l lease
		if json.Unmarshal(data, &l) != nil || time.Now().After(l.Expires) {
			// Expired (or unreadable): take it over, unless another
			// taker replaced it first.
			if version, err = st.PutIf(ctx, name, bytes.NewReader(content(taken)), v); err == nil {
				break
			}
			if !errors.Is(err, ErrChanged) {
				return nil, fmt.Errorf("taking over the expired lease %s: %w", name, err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the lock %s is held by %s since %s: %w", name, l.Holder, l.Taken.Format(time.RFC3339), ctx.Err())
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
			v, err := st.PutIf(context.Background(), name, bytes.NewReader(content(taken)), version)
			if err == nil {
				version = v
			}
			mu.Unlock()
			if errors.Is(err, ErrChanged) {
				return // taken over: nothing left to renew
			}
		}
	}()
	var once sync.Once
	return func() {
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
	}, nil
}
