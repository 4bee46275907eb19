package proxy

import (
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
