package storetest

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// LeaseMem is a store.Mem whose locks are leases with a short TTL, as
// S3's are (store.LeaseLocker), and whose leases cannot be renewed while
// Cut is set: the object store is out of the holder's reach for a while,
// as far as its lease goes. For tests of lease holders (import, prune).
type LeaseMem struct {
	*store.Mem
	TTL time.Duration
	Cut atomic.Bool
}

// NewLeaseMem returns an empty LeaseMem whose leases last ttl.
func NewLeaseMem(ttl time.Duration) *LeaseMem {
	return &LeaseMem{Mem: store.NewMem(), TTL: ttl}
}

// LockLease implements store.LeaseLocker.
func (s *LeaseMem) LockLease(ctx context.Context, name string) (*store.Lease, error) {
	return store.TakeLease(ctx, s, name+".lock", s.TTL)
}

// PutIf implements store.CompareAndSwapper, failing with
// store.ErrUnavailable for lock objects while Cut is set.
func (s *LeaseMem) PutIf(ctx context.Context, name string, r io.Reader, version string) (string, error) {
	if s.Cut.Load() && strings.HasSuffix(name, ".lock") {
		return "", store.ErrUnavailable
	}
	return s.Mem.PutIf(ctx, name, r, version)
}
