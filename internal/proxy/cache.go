package proxy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/modferry/modferry/internal/modfiles"
)

// smallFile is an immutable store object kept in memory.
type smallFile struct {
	data    []byte
	etag    []string // header value, preallocated
	length  []string
	modTime time.Time
	kind    modfiles.Kind
	checked atomic.Int64 // when the store last confirmed the object (Unix ns)
}

// fileCache holds small immutable objects, bounded in total bytes. Entries
// older than ttl are re-checked against the store, so that a deletion made
// by another process is seen within ttl.
type fileCache struct {
	mu    sync.RWMutex
	m     map[string]*smallFile
	size  int
	limit int
}

func newFileCache(limit int) *fileCache {
	return &fileCache{m: make(map[string]*smallFile), limit: limit}
}

func (c *fileCache) get(name string) *smallFile {
	c.mu.RLock()
	f := c.m[name]
	c.mu.RUnlock()
	return f
}

func (c *fileCache) put(name string, f *smallFile) {
	if len(f.data) > c.limit/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[name]; old != nil {
		c.size -= len(old.data)
	}
	// Evict arbitrary entries until the new one fits: cheap, and good
	// enough for a working set that is usually far below the limit.
	for k, v := range c.m {
		if c.size+len(f.data) <= c.limit {
			break
		}
		delete(c.m, k)
		c.size -= len(v.data)
	}
	c.m[name] = f
	c.size += len(f.data)
}

func (c *fileCache) drop(name string) {
	c.mu.Lock()
	if old := c.m[name]; old != nil {
		c.size -= len(old.data)
		delete(c.m, name)
	}
	c.mu.Unlock()
}

// dropPrefix forgets every entry whose name starts with prefix.
func (c *fileCache) dropPrefix(prefix string) {
	c.mu.Lock()
	for k, v := range c.m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(c.m, k)
			c.size -= len(v.data)
		}
	}
	c.mu.Unlock()
}
