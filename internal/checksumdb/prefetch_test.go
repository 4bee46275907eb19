package checksumdb

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

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

// TestPrefetchShare checks that a file the go command asks for (Share)
// and the prefetch wants is fetched once: Share joins the prefetch's
// fetch under way, takes over one still waiting for its turn, and what
// Share fetched is neither prefetched again nor fetched again by Fetch.
func TestPrefetchShare(t *testing.T) {
	ctx := context.Background()
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	b := module.Version{Path: "example.com/b", Version: "v1.0.0"}
	c := module.Version{Path: "example.com/c", Version: "v1.0.0"}
	la, _ := modfiles.LookupPath(a)
	lb, _ := modfiles.LookupPath(b)
	lc, _ := modfiles.LookupPath(c)
	var (
		mu      sync.Mutex
		fetched = map[string]int{} // by the prefetch
		own     = map[string]int{} // by Share's caller
	)
	x := module.Version{Path: "example.com/x", Version: "v1.0.0"}
	lx, _ := modfiles.LookupPath(x)
	d := module.Version{Path: "example.com/d", Version: "v1.0.0"}
	ld, _ := modfiles.LookupPath(d)
	hold := map[string]chan struct{}{"latest": make(chan struct{}), lx: make(chan struct{}), ld: make(chan struct{})}
	started := make(chan string, 10)
	fetch := func(ctx context.Context, p string) ([]byte, error) {
		mu.Lock()
		fetched[p]++
		mu.Unlock()
		started <- p
		if h := hold[p]; h != nil {
			select {
			case <-h:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if p == lc {
			return nil, errors.New("upstream failed")
		}
		return []byte("prefetched " + p), nil
	}
	callerFetch := func(p string) func() ([]byte, error) {
		return func() ([]byte, error) {
			mu.Lock()
			own[p]++
			mu.Unlock()
			return []byte("shared " + p), nil
		}
	}
	pf := NewPrefetcher(ctx, fetch, nil, 1) // one fetch at a time
	defer pf.Close()

	// Nobody asked for b: Share fetches it, and the prefetch then leaves it.
	if got, err := pf.Share(lb, callerFetch(lb)); err != nil || string(got) != "shared "+lb {
		t.Fatalf("Share(%s) = %q, %v", lb, got, err)
	}

	// x's head or lookup takes the one slot and is held there; a's lookup
	// waits for its turn, and Share takes it over.
	pf.Add(x)
	<-started
	pf.Add(a)
	waitFor(t, func() bool { pf.mu.Lock(); defer pf.mu.Unlock(); return pf.files[la] != nil })
	if got, err := pf.Share(la, callerFetch(la)); err != nil || string(got) != "shared "+la {
		t.Fatalf("Share(%s) of a waiting prefetch = %q, %v", la, got, err)
	}
	close(hold["latest"])
	close(hold[lx])

	// Under way: Share waits for the prefetch's fetch and uses it.
	pf.Add(b)
	pf.Add(c) // its fetch fails: Share fetches it itself
	pf.wg.Wait()
	if got, err := pf.Share(lc, callerFetch(lc)); err != nil || string(got) != "shared "+lc {
		t.Fatalf("Share(%s) after a failed prefetch = %q, %v", lc, got, err)
	}
	pf.Add(d)
	for p := range started {
		if p == ld {
			break
		}
	}
	done := make(chan []byte)
	go func() {
		got, _ := pf.Share(ld, callerFetch(ld))
		done <- got
	}()
	close(hold[ld])
	if got := <-done; string(got) != "prefetched "+ld {
		t.Errorf("Share(%s) of a prefetch under way = %q", ld, got)
	}

	mu.Lock()
	for p, n := range map[string]int{lb: 0, la: 0, lc: 1, ld: 1, lx: 1, "latest": 1} {
		if fetched[p] != n {
			t.Errorf("the prefetch fetched %s %d times, want %d", p, fetched[p], n)
		}
	}
	for p, n := range map[string]int{lb: 1, la: 1, lc: 1, ld: 0} {
		if own[p] != n {
			t.Errorf("Share's caller fetched %s %d times, want %d", p, own[p], n)
		}
	}
	mu.Unlock()
	// What Share fetched is handed to the capture without a fetch.
	for _, p := range []string{la, lb} {
		if got, err := pf.Fetch(ctx, p); err != nil || string(got) != "shared "+p {
			t.Errorf("Fetch(%s) = %q, %v", p, got, err)
		}
	}
	mu.Lock()
	if fetched[la]+fetched[lb] != 0 {
		t.Errorf("Fetch fetched what Share had: %v", fetched)
	}
	mu.Unlock()
}

// waitFor polls cond until it holds, for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("timed out")
}
