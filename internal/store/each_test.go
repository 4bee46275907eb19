package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachRunsEveryIndexOnce(t *testing.T) {
	const n = 1000
	var seen [n]atomic.Int32
	var running, most atomic.Int32
	err := Each(context.Background(), n, func(ctx context.Context, i int) error {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
		seen[i].Add(1)
		running.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("index %d ran %d times", i, c)
		}
	}
	if m := most.Load(); m > Readers {
		t.Errorf("%d calls at once, more than Readers (%d)", m, Readers)
	}
}

// The error is the lowest failing index's, as a loop's would be, even
// when a higher index fails first.
func TestEachLowestError(t *testing.T) {
	release := make(chan struct{})
	err := Each(context.Background(), 50, func(ctx context.Context, i int) error {
		switch i {
		case 3:
			<-release // fails after 7 has
			return fmt.Errorf("index %d", i)
		case 7:
			defer close(release)
			return fmt.Errorf("index %d", i)
		}
		return nil
	})
	if err == nil || err.Error() != "index 3" {
		t.Fatalf("got %v, want index 3's error", err)
	}
}

func TestEachStopsAfterFailure(t *testing.T) {
	var ran atomic.Int32
	boom := errors.New("boom")
	err := Each(context.Background(), 100000, func(ctx context.Context, i int) error {
		ran.Add(1)
		if i == 0 {
			return boom
		}
		time.Sleep(10 * time.Microsecond)
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if r := ran.Load(); r > 10000 {
		t.Errorf("%d calls ran after the first failed", r)
	}
}

func TestEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	err := Each(ctx, 10, func(ctx context.Context, i int) error { ran.Add(1); return nil })
	if !errors.Is(err, context.Canceled) || ran.Load() != 0 {
		t.Fatalf("got %v after %d calls, want context.Canceled and none", err, ran.Load())
	}
	if err := Each(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
}
