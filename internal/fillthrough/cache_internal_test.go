package fillthrough

import (
	"fmt"
	"testing"
	"time"
)

// TestAnswerCacheBoundsNotFound: a client that asks for a new path each
// time gets a 404 (no body) each time; the cache must not keep them all.
func TestAnswerCacheBoundsNotFound(t *testing.T) {
	const limit = 1 << 20
	c := newAnswerCache(limit)
	exp := time.Now().Add(time.Hour)
	const n = 50000
	for i := range n {
		p := fmt.Sprintf("sumdb/sum.golang.org/lookup/example.com/x%d@v1.0.0", i)
		c.put(p, &answer{err: &NotFoundError{Status: 404, Msg: "not found"}, expires: exp})
	}
	kept := 0
	for i := range n {
		if c.get(fmt.Sprintf("sumdb/sum.golang.org/lookup/example.com/x%d@v1.0.0", i), time.Now()) != nil {
			kept++
		}
	}
	if max := limit / entryOverhead; kept == 0 || kept > max {
		t.Fatalf("kept %d of %d not-found answers in a %d-byte cache; want between 1 and %d", kept, n, limit, max)
	}
}
