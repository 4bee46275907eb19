package checksumdb

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/modferry/modferry/internal/modfiles"
)

// mapCache is a Cache in memory.
type mapCache struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (c *mapCache) Get(p string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.files[p]
	return d, ok
}

func (c *mapCache) Put(p string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[p] = data
}

// TestCaptureCache captures the same modules twice through one cache, the
// database growing in between: the second capture fetches only the
// latest head and the tiles that are not full, and its proof verifies. A
// cached lookup that no longer holds the module's hashes is fetched
// again, and a cached tile that does not match the tree fails the
// capture (the caller then captures without the cache).
func TestCaptureCache(t *testing.T) {
	ctx := context.Background()
	db, fx := recordFixtures(t, func(i int) int { return 300 + i*7 })
	var mu sync.Mutex
	var fetched []string
	fetch := func(ctx context.Context, p string) ([]byte, error) {
		mu.Lock()
		fetched = append(fetched, p)
		mu.Unlock()
		return db.Fetch(ctx, p)
	}
	cache := &mapCache{files: map[string][]byte{}}
	capture := func() (*Proof, []string, error) {
		fetched = nil
		p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: fetch, Modules: fx, Cache: cache})
		return p, fetched, err
	}

	first, got, err := capture()
	if err != nil {
		t.Fatal(err)
	}
	firstFetches := len(got)
	if n := count(got, "lookup/"); n != len(fx) {
		t.Errorf("first capture fetched %d lookups, want %d", n, len(fx))
	}
	for p := range cache.files {
		if strings.Contains(p, ".p/") {
			t.Errorf("a partial tile went to the cache: %s", p)
		}
	}
	if count(keys(cache.files), "lookup/") != len(fx) || count(keys(cache.files), "tile/") == 0 {
		t.Fatalf("cache after the first capture: %v", keys(cache.files))
	}

	db.AddFiller(t, 700)
	second, got, err := capture()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p != "latest" && !strings.Contains(p, ".p/") {
			t.Errorf("second capture fetched %s, which the cache holds or could hold", p)
		}
	}
	if second.Head.N <= first.Head.N {
		t.Fatalf("the database did not grow: %d then %d", first.Head.N, second.Head.N)
	}
	if _, err := Verify(second.Files, db.Name, db.Key, fx); err != nil {
		t.Fatalf("proof captured through the cache: %v", err)
	}
	t.Logf("first capture: %d fetches; second: %d (%v)", firstFetches, len(got), got)

	// A cached lookup whose record does not hold the module's hashes.
	lk, _ := modfiles.LookupPath(fx[0].Version)
	other, _ := modfiles.LookupPath(fx[1].Version)
	if _, ok := cache.files[lk]; !ok {
		t.Fatalf("no %s in the cache: %v", lk, keys(cache.files))
	}
	cache.files[lk] = cache.files[other]
	if _, got, err = capture(); err != nil {
		t.Fatalf("capture with a wrong cached lookup: %v", err)
	}
	if count(got, lk) != 1 {
		t.Errorf("the wrong cached lookup was not fetched again: fetched %v", got)
	}

	// A cached tile that does not match the tree.
	for p, d := range cache.files {
		if strings.HasPrefix(p, "tile/8/0/") {
			bad := append([]byte(nil), d...)
			bad[0] ^= 1
			cache.files[p] = bad
		}
	}
	if _, _, err := capture(); err == nil {
		t.Error("capture with corrupt cached tiles succeeded")
	}
}

func count(ps []string, sub string) int {
	n := 0
	for _, p := range ps {
		if strings.Contains(p, sub) {
			n++
		}
	}
	return n
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range maps.Keys(m) {
		ks = append(ks, k)
	}
	return ks
}
