package prune

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/storetest"
)

// TestApplyStopsOnLostLease: a prune whose lease could not be renewed
// for longer than the lease stops before its next removal.
func TestApplyStopsOnLostLease(t *testing.T) {
	ctx := context.Background()
	st := storetest.NewLeaseMem(300 * time.Millisecond)
	repo := &modules.Repo{Store: st}
	for _, s := range []string{"a.test/x@v1.0.0", "b.test/y@v1.0.0"} {
		v := mv(s)
		if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module " + v.Path + "\n"), Zip: strings.NewReader("zip")}); err != nil {
			t.Fatal(err)
		}
	}
	putBundle(t, st, "d1", "2026-11-01T00:00:00Z", "a.test/x@v1.0.0", "b.test/y@v1.0.0")
	var seen []string
	_, err := Apply(ctx, st, Options{KeepBundles: -1}, func(r Removal) error {
		seen = append(seen, r.String())
		st.Cut.Store(true)
		time.Sleep(500 * time.Millisecond) // past the lease
		return Remove(ctx, st, r, "test")
	})
	if !errors.Is(err, store.ErrLockLost) || len(seen) != 1 {
		t.Fatalf("prune across an outage longer than its lease: removed %v, %v; want one removal, then store.ErrLockLost", seen, err)
	}
}
