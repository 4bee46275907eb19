package prune

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// leaseStore is a store.Mem whose import lock is a short lease, as S3's
// is, that cannot be renewed while cut is set.
type leaseStore struct {
	*store.Mem
	cut atomic.Bool
}

func (s *leaseStore) LockLease(ctx context.Context, name string) (*store.Lease, error) {
	return store.TakeLease(ctx, s, name+".lock", 300*time.Millisecond)
}

func (s *leaseStore) PutIf(ctx context.Context, name string, r io.Reader, version string) (string, error) {
	if s.cut.Load() && strings.HasSuffix(name, ".lock") {
		return "", store.ErrUnavailable
	}
	return s.Mem.PutIf(ctx, name, r, version)
}

// TestApplyStopsOnLostLease: a prune whose lease could not be renewed
// for longer than the lease stops before its next removal.
func TestApplyStopsOnLostLease(t *testing.T) {
	ctx := context.Background()
	st := &leaseStore{Mem: store.NewMem()}
	repo := &modules.Repo{Store: st}
	for _, s := range []string{"a.test/x@v1.0.0", "b.test/y@v1.0.0"} {
		v := mv(s)
		if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module " + v.Path + "\n"), Zip: strings.NewReader("zip")}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	_, err := Apply(ctx, st, Options{}, func(r Removal) error {
		seen = append(seen, r.String())
		st.cut.Store(true)
		time.Sleep(500 * time.Millisecond) // past the lease
		return Remove(ctx, st, r, "test")
	})
	if !errors.Is(err, store.ErrLockLost) || len(seen) != 1 {
		t.Fatalf("prune across an outage longer than its lease: removed %v, %v; want one removal, then store.ErrLockLost", seen, err)
	}
}
