// Package sizecache is a map of small values bounded in total bytes, for
// the server's in-memory caches (package proxy's small store objects,
// package fillthrough's upstream answers). Eviction is arbitrary: cheap,
// and good enough for a working set that is usually far below the limit.
// A value larger than an eighth of the limit is not kept.
package sizecache

import (
	"strings"
	"sync"
)

// A Cache maps names to values of a known size. It is safe for
// concurrent use; Get takes only a read lock.
type Cache[V any] struct {
	mu    sync.RWMutex
	m     map[string]entry[V]
	size  int
	limit int
}

type entry[V any] struct {
	v V
	n int
}

// New returns a cache holding at most limit bytes of values.
func New[V any](limit int) *Cache[V] {
	return &Cache[V]{m: make(map[string]entry[V]), limit: limit}
}

// Limit returns the limit given to New.
func (c *Cache[V]) Limit() int { return c.limit }

// Get returns the value kept for name.
func (c *Cache[V]) Get(name string) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[name]
	c.mu.RUnlock()
	return e.v, ok
}

// Put keeps v, of n bytes, for name, evicting other entries until it
// fits. A value larger than Limit()/8 is not kept.
func (c *Cache[V]) Put(name string, v V, n int) {
	if n > c.limit/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleteLocked(name)
	for k, e := range c.m {
		if c.size+n <= c.limit {
			break
		}
		delete(c.m, k)
		c.size -= e.n
	}
	c.m[name] = entry[V]{v, n}
	c.size += n
}

// Delete forgets name.
func (c *Cache[V]) Delete(name string) {
	c.mu.Lock()
	c.deleteLocked(name)
	c.mu.Unlock()
}

// DeletePrefix forgets every name that starts with prefix.
func (c *Cache[V]) DeletePrefix(prefix string) {
	c.mu.Lock()
	for k := range c.m {
		if strings.HasPrefix(k, prefix) {
			c.deleteLocked(k)
		}
	}
	c.mu.Unlock()
}

func (c *Cache[V]) deleteLocked(name string) {
	if old, ok := c.m[name]; ok {
		c.size -= old.n
		delete(c.m, name)
	}
}
