package catalog

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedCoalesces: callers that arrive while a pass runs share one
// next pass, which starts after they asked; passes never overlap.
func TestSharedCoalesces(t *testing.T) {
	var s shared
	var runs, running atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	fn := func(context.Context) error {
		if running.Add(1) != 1 {
			t.Error("two passes at once")
		}
		runs.Add(1)
		started <- struct{}{}
		<-release
		running.Add(-1)
		return nil
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.do(ctx, fn) }()
	<-started // the first pass runs
	const waiters = 8
	var returned atomic.Int32
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.do(ctx, fn); err != nil {
				t.Error(err)
			}
			returned.Add(1)
		}()
	}
	// Let them all queue behind the first pass.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		queued := s.next != nil
		s.mu.Unlock()
		if queued || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := returned.Load(); n != 0 {
		t.Fatalf("%d callers returned before a pass that started after they asked", n)
	}
	release <- struct{}{} // end the first pass
	<-started             // the shared second pass runs
	if n := returned.Load(); n != 0 {
		t.Fatalf("%d callers returned before their pass ended", n)
	}
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 2 {
		t.Errorf("%d passes for 1+%d callers, want 2 (the second shared)", n, waiters)
	}
}

// TestSharedOtherCancel: a pass that failed because the context of the
// caller that ran it ended is run again for the callers that shared it.
func TestSharedOtherCancel(t *testing.T) {
	// Two callers queue behind a running pass; whichever wakes first runs
	// the shared one. Try until the caller whose context is cancelled
	// during the shared pass is the one that runs it.
	for attempt := 0; attempt < 200; attempt++ {
		var s shared
		gate := make(chan struct{})
		go s.do(context.Background(), func(context.Context) error { <-gate; return nil })
		waitFor(t, &s, func() bool { return s.cur != nil })
		cctx, cancel := context.WithCancel(context.Background())
		ranBy := make(chan context.Context, 4)
		release := make(chan struct{})
		fn := func(ctx context.Context) error {
			ranBy <- ctx
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		errA, errB := make(chan error, 1), make(chan error, 1)
		go func() { errA <- s.do(cctx, fn) }()
		waitFor(t, &s, func() bool { return s.next != nil })
		go func() { errB <- s.do(context.Background(), fn) }()
		time.Sleep(10 * time.Millisecond) // B queues for the same next pass
		close(gate)
		first := <-ranBy
		cancel()
		if first != cctx {
			close(release)
			<-errA
			if err := <-errB; err != nil {
				t.Fatal(err)
			}
			continue // B ran it: not the case under test
		}
		if err := <-errA; err == nil {
			t.Fatal("the cancelled caller got no error")
		}
		select {
		case again := <-ranBy:
			if again == cctx {
				t.Fatal("the pass was run again with the cancelled context")
			}
		case err := <-errB:
			t.Fatalf("the caller that shared a pass another caller's context ended got %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("the pass was not run again")
		}
		close(release)
		if err := <-errB; err != nil {
			t.Fatalf("the caller that shared a pass another caller's context ended got %v", err)
		}
		return
	}
	t.Skip("the cancelled caller never ran the shared pass")
}

func waitFor(t *testing.T, s *shared, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
