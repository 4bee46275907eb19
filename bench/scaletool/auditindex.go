package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/s3store"
)

// auditindex reads the audit log of the s3:// store at URL as a server's
// catalog does when it starts (audit.IndexReader with checkpoints: from
// the store's checkpoint if it has a valid one, writing one after a long
// read) and prints the seconds it took, the requests it made and what it
// found: "SECONDS GETS LISTED PUBLISHES SIGNERS". With -fresh it first
// deletes the checkpoint, as on a store no server has read yet.
func auditindex(args []string) error {
	fresh := len(args) == 2 && args[0] == "-fresh"
	if fresh {
		args = args[1:]
	}
	if len(args) != 1 {
		usage()
	}
	ctx := context.Background()
	st, err := s3store.New(ctx, args[0], s3store.Options{})
	if err != nil {
		return err
	}
	if fresh {
		if err := st.Delete(ctx, audit.IndexCheckpoint); err != nil {
			return err
		}
	}
	c := &counting{Store: st}
	r := audit.NewIndexReader(c)
	r.Checkpoints = true
	t0 := time.Now()
	x, _, err := r.Update(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%.3f %d %d %d %d\n", time.Since(t0).Seconds(), c.gets.Load(), c.listed.Load(), len(x.Publishes), len(x.Signers))
	return nil
}

// counting counts a store's reads and the names its listings return.
type counting struct {
	store.Store
	gets, listed atomic.Int64
}

func (c *counting) Open(ctx context.Context, name string) (store.File, error) {
	c.gets.Add(1)
	return c.Store.Open(ctx, name)
}

func (c *counting) ReadAll(ctx context.Context, name string) ([]byte, error) {
	c.gets.Add(1)
	return store.ReadAll(ctx, c.Store, name)
}

func (c *counting) List(ctx context.Context, dir string) ([]string, error) {
	names, err := c.Store.List(ctx, dir)
	c.listed.Add(int64(len(names)))
	return names, err
}

func (c *counting) ListAfter(ctx context.Context, dir, after string, limit int) ([]string, error) {
	names, err := store.ListAfter(ctx, c.Store, dir, after, limit)
	c.listed.Add(int64(len(names)))
	return names, err
}
