package fillthrough

import (
	"time"

	"github.com/modferry/modferry/internal/sizecache"
)

// answer is an upstream's answer to one GET: its body, or the error
// (a *NotFoundError: other errors are never kept).
type answer struct {
	data    []byte
	err     error
	expires time.Time // zero: never (immutable content)
	// deleted: for the versions deleted here on purpose, by module.
	deleted map[string]bool
}

// answerCache keeps upstream answers by path, bounded in total bytes
// (package sizecache), and forgets those that expired.
type answerCache struct {
	c *sizecache.Cache[*answer]
}

func newAnswerCache(limit int) *answerCache {
	return &answerCache{c: sizecache.New[*answer](limit)}
}

// get returns the answer held for p, if any and not expired.
func (c *answerCache) get(p string, now time.Time) *answer {
	a, ok := c.c.Get(p)
	if !ok {
		return nil
	}
	if !a.expires.IsZero() && now.After(a.expires) {
		c.c.Delete(p)
		return nil
	}
	return a
}

func (c *answerCache) put(p string, a *answer) {
	c.c.Put(p, a, a.cost(p))
}

// entryOverhead is what an entry costs beside its body: the map entry,
// the answer and its error. Counting it bounds the entries too: a client
// asking for a new path each time gets a 404 each time, with no body,
// and those answers would otherwise cost nothing and never be evicted.
const entryOverhead = 256

// cost is what a holds, in bytes, under key p.
func (a *answer) cost(p string) int {
	n := entryOverhead + len(p) + len(a.data)
	if a.err != nil {
		n += len(a.err.Error())
	}
	return n
}
