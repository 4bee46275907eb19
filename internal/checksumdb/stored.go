package checksumdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// KnownKeys are the verifier keys the go command itself trusts, by
// database name. A bundle naming one of these databases must carry its
// known key.
var KnownKeys = map[string]string{
	"sum.golang.org": "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
}

// SaveKey records the database's verifier key in the store, so that a
// server can open the database later.
func (db *DB) SaveKey(ctx context.Context) error {
	have, err := db.read(ctx, "key")
	if err == nil && strings.TrimSpace(string(have)) == db.key {
		return nil
	}
	if err == nil {
		return fmt.Errorf("the store holds checksum database %s with another key (%s)", db.name, strings.TrimSpace(string(have)))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return db.st.Put(ctx, db.obj("key"), strings.NewReader(db.key+"\n"))
}

// OpenStored opens every checksum database whose key the store holds.
func OpenStored(ctx context.Context, st store.Store) ([]*DB, error) {
	names, err := st.List(ctx, "sumdb")
	if err != nil {
		return nil, err
	}
	var dbs []*DB
	for _, n := range names {
		name, ok := strings.CutSuffix(n, "/")
		if !ok {
			continue
		}
		key, err := store.ReadAll(ctx, st, "sumdb/"+name+"/key")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		db, err := NewDB(st, string(key))
		if err != nil {
			return nil, fmt.Errorf("sumdb/%s/key: %w", name, err)
		}
		dbs = append(dbs, db)
	}
	return dbs, nil
}

// StoreHandler serves the checksum databases of a store, finding databases
// imported after it started (it looks again at most once a second when
// asked for a database it does not know).
func StoreHandler(st store.Store) http.Handler {
	return &storeHandler{st: st}
}

type storeHandler struct {
	st store.Store

	mu      sync.Mutex
	h       http.Handler
	known   map[string]bool
	checked time.Time
}

func (s *storeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/sumdb/"), "/")
	s.mu.Lock()
	if s.h == nil || (!s.known[name] && time.Since(s.checked) > time.Second) {
		s.refresh(r.Context())
	}
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func (s *storeHandler) refresh(ctx context.Context) {
	s.checked = time.Now()
	dbs, err := OpenStored(ctx, s.st)
	if err != nil && s.h != nil {
		return // keep serving what we had
	}
	s.known = map[string]bool{}
	for _, db := range dbs {
		s.known[db.Name()] = true
	}
	s.h = Handler(dbs...)
}
