package store

import (
	"context"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Workers is how many calls Each runs at once, and other bulk work on a
// store (an import's commit to an object store). Such work waits on the
// store more than on a core (a system call per small file, a round trip
// per object on S3), so it is above the number of cores.
const Workers = 16

// Concurrency returns how many goroutines background work should read s
// with: Workers for a store kept elsewhere, where each read waits on a
// round trip, and the number of cores (at least two) for a local one,
// where a read is a system call on cached data and the work is on the
// cores, which a server's requests need too.
func Concurrency(s Store) int {
	if _, ok := s.(Local); ok {
		return max(2, runtime.GOMAXPROCS(0))
	}
	return Workers
}

// ListWorkers returns how many directories of s to list at once when
// walking it: one for a local store, where a listing is a system call on
// cached data and handing work between goroutines would cost more than it
// saves (a refresh of a 100k store's catalog took 1.5 times the CPU with
// two), Workers for a store kept elsewhere.
func ListWorkers(s Store) int {
	if _, ok := s.(Local); ok {
		return 1
	}
	return Workers
}

// Each calls fn(ctx, i) for every i in [0, n), up to Workers at once, for
// work that reads many objects one by one: fn may run concurrently for
// different i. It returns the error of the lowest i that failed, as a loop
// would: the calls begin in order of i, and after a failure those not yet
// begun are skipped while those running finish.
func Each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	return EachLimit(ctx, Workers, n, fn)
}

// EachLimit is Each with up to limit calls at once; with a limit of one
// it is a plain loop on the caller's goroutine.
func EachLimit(ctx context.Context, limit, n int, fn func(ctx context.Context, i int) error) error {
	if n <= 0 {
		return ctx.Err()
	}
	if limit <= 1 {
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var failed atomic.Bool
	var g errgroup.Group
	g.SetLimit(max(1, limit))
	for i := range n {
		if failed.Load() || ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := fn(ctx, i); err != nil {
				errs[i] = err
				failed.Store(true)
			}
			return nil
		})
	}
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
