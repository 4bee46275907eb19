package checksumdb

import (
	"bytes"
	"context"
	"errors"
	"io/fs"

	"github.com/modferry/modferry/internal/store"
)

// advanceHead makes head the served head ("latest") if it is newer than
// the one held, and returns the head served afterwards. On a store that
// can compare and swap (store.CompareAndSwapper: Disk under a file lock,
// S3 with If-Match), importers racing each other cannot roll the head
// back: a write based on a stale read is refused, and the head is read
// again.
func (db *DB) advanceHead(ctx context.Context, head *Head) (*Head, error) {
	name := db.obj("latest")
	cas, ok := db.st.(store.CompareAndSwapper)
	if !ok {
		cur, err := db.Head(ctx)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if cur != nil && cur.N >= head.N {
			return cur, nil
		}
		if err := db.st.Put(ctx, name, bytes.NewReader(head.Note)); err != nil {
			return nil, err
		}
		return head, nil
	}
	for {
		msg, version, err := cas.Get(ctx, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err == nil {
			cur, err := openHead(msg, db.v, name)
			if err != nil {
				return nil, err
			}
			if cur.N >= head.N {
				return cur, nil
			}
		}
		_, err = cas.PutIf(ctx, name, bytes.NewReader(head.Note), version)
		if errors.Is(err, store.ErrChanged) {
			continue // another importer moved it: compare again
		}
		if err != nil {
			return nil, err
		}
		return head, nil
	}
}
