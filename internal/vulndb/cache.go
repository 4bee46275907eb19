package vulndb

import (
	"context"
	"sync"

	"github.com/modferry/modferry/internal/store"
)

// A Cache holds a store's database in memory for lookups, loading it again
// when an import switches the copy in use. The zero value is ready.
type Cache struct {
	mu  sync.Mutex
	dir string
	db  *DB
}

// Get returns the store's database, or an error matching ErrNone. The DB
// it returns answers Entry and Findings; its Files is not available.
func (c *Cache) Get(ctx context.Context, st store.Store) (*DB, error) {
	dir, err := current(ctx, st)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == dir && c.db != nil {
		return c.db, nil
	}
	db, err := Load(ctx, st)
	if err != nil {
		return nil, err
	}
	db.raw = nil // ~20 MB of entry text that lookups do not need
	db.byModule = nil
	db.Findings("", nil, false) // build the module index once, under the lock
	c.dir, c.db = dir, db
	return db, nil
}
