package checksumdb

import (
	"context"
	"sync"
	"testing"

	"github.com/modferry/modferry/internal/modfiles"
)

// TestPrefetch checks that a Capture through a Prefetcher gets the
// lookups and full tiles prefetched for its modules without fetching any
// file twice, that its proof verifies, and that what a cache holds is not
// prefetched.
func TestPrefetch(t *testing.T) {
	ctx := context.Background()
	db, fx := recordFixtures(t, func(i int) int { return 300 + i*7 })
	var (
		mu      sync.Mutex
		fetched = map[string]int{}
		order   []string
	)
	fetch := func(ctx context.Context, p string) ([]byte, error) {
		mu.Lock()
		fetched[p]++
		order = append(order, p)
		mu.Unlock()
		return db.Fetch(ctx, p)
	}
	pf := NewPrefetcher(ctx, fetch, nil, 4)
	defer pf.Close()
	for _, m := range fx {
		pf.Add(m.Version)
	}
	pf.Add(fx[0].Version) // twice: fetched once
	pf.wg.Wait()          // the prefetch is done before the capture
	mu.Lock()
	before := append([]string(nil), order...)
	mu.Unlock()
	if n := count(before, "lookup/"); n != len(fx) {
		t.Errorf("prefetched %d lookups, want %d", n, len(fx))
	}
	if count(before, "tile/8/0/") == 0 {
		t.Errorf("no level-0 tile prefetched: %v", before)
	}
	if count(before, "latest") != 1 {
		t.Errorf("the head was not prefetched once: %v", before)
	}

	p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: pf.Fetch, Modules: fx})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(p.Files, db.Name, db.Key, fx); err != nil {
		t.Fatalf("proof captured through the prefetcher: %v", err)
	}
	for path, n := range fetched {
		if n > 1 {
			t.Errorf("%s fetched %d times", path, n)
		}
	}
	mu.Lock()
	during := order[len(before):]
	mu.Unlock()
	if n := count(during, "lookup/") + count(during, "latest"); n != 0 {
		t.Errorf("the capture fetched %d lookups or heads again: %v", n, during)
	}
	t.Logf("prefetched %d files; the capture fetched %d more: %v", len(before), len(during), during)

	// A lookup the cache holds is not prefetched.
	cache := &mapCache{files: map[string][]byte{}}
	lk, _ := modfiles.LookupPath(fx[1].Version)
	cache.files[lk] = []byte("cached")
	fetched = map[string]int{}
	order = nil
	pf2 := NewPrefetcher(ctx, fetch, cache, 0)
	pf2.Add(fx[1].Version)
	pf2.Add(fx[2].Version)
	pf2.wg.Wait()
	pf2.Close()
	if fetched[lk] != 0 || count(order, "lookup/") != 1 {
		t.Errorf("with %s cached, the prefetcher fetched %v", lk, order)
	}
}
