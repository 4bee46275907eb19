package fillthrough

import (
	"sync"
	"time"
)

// answer is an upstream's answer to one GET: its body, or the error
// (a *NotFoundError: other errors are never kept).
type answer struct {
	data    []byte
	err     error
	expires time.Time // zero: never (immutable content)
}

// answerCache keeps upstream answers by path, bounded in total bytes.
// Eviction is arbitrary, as in package proxy's cache: cheap, and good
// enough for a working set far below the limit.
type answerCache struct {
	mu    sync.Mutex
	m     map[string]*answer
	size  int
	limit int
}

func newAnswerCache(limit int) *answerCache {
	return &answerCache{m: make(map[string]*answer), limit: limit}
}

// get returns the answer held for p, if any and not expired.
func (c *answerCache) get(p string, now time.Time) *answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.m[p]
	if a == nil {
		return nil
	}
	if !a.expires.IsZero() && now.After(a.expires) {
		delete(c.m, p)
		c.size -= len(a.data)
		return nil
	}
	return a
}

func (c *answerCache) put(p string, a *answer) {
	if len(a.data) > c.limit/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[p]; old != nil {
		c.size -= len(old.data)
	}
	for k, v := range c.m {
		if c.size+len(a.data) <= c.limit {
			break
		}
		delete(c.m, k)
		c.size -= len(v.data)
	}
	c.m[p] = a
	c.size += len(a.data)
}
