package catalog

import (
	"context"
	"errors"
	"sync"
)

// shared runs a pass whose callers each need one that started after they
// asked: reading the import records and audit-log lines appended since
// the last pass, which every module page whose versions have no known
// origin asks for. Callers that arrive while a pass runs share the next
// one, instead of running theirs one after another: at 16 clients, module
// pages queued on a mutex for these passes (an execution trace of the
// 100k-version bench store showed most of the time pages spent blocked
// there), while one pass after the running one answers them all.
//
// Passes never overlap.
type shared struct {
	mu   sync.Mutex
	cur  *sharedRun // the pass running, nil if none
	next *sharedRun // the pass to start after cur, for who waits for it
}

type sharedRun struct {
	done chan struct{}
	err  error
}

// do runs fn, or waits for a run of fn that starts after do was called,
// and returns its error. A run that failed because the context of the
// caller that ran it ended is run again for the others.
func (s *shared) do(ctx context.Context, fn func(context.Context) error) error {
	for {
		err := s.once(ctx, fn)
		if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue // another caller's context ended its run
		}
		return err
	}
}

func (s *shared) once(ctx context.Context, fn func(context.Context) error) error {
	s.mu.Lock()
	r := s.next
	if s.cur != nil {
		if r == nil {
			r = &sharedRun{done: make(chan struct{})}
			s.next = r
		}
		// Wait for the running pass to end; then the first waiter to wake
		// up starts r, and the others wait for it.
		for s.cur != nil && s.next == r {
			cur := s.cur
			s.mu.Unlock()
			select {
			case <-cur.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			s.mu.Lock()
		}
		if s.next != r {
			s.mu.Unlock()
			select {
			case <-r.done:
				return r.err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if r == nil {
		r = &sharedRun{done: make(chan struct{})}
	}
	s.next, s.cur = nil, r
	s.mu.Unlock()
	r.err = fn(ctx)
	s.mu.Lock()
	s.cur = nil
	close(r.done)
	s.mu.Unlock()
	return r.err
}
