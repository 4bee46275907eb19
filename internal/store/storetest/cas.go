package storetest

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modferry/modferry/internal/store"
)

// runCAS checks store.CompareAndSwapper, for stores that implement it.
func runCAS(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	cas := func(t *testing.T) (store.Store, store.CompareAndSwapper) {
		s := newStore(t)
		c, ok := s.(store.CompareAndSwapper)
		if !ok {
			t.Skipf("%T does not implement store.CompareAndSwapper", s)
		}
		return s, c
	}

	t.Run("Sequence", func(t *testing.T) {
		s, c := cas(t)
		if _, _, err := c.Get(ctx, "head/latest"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Get of a missing object: %v, want fs.ErrNotExist", err)
		}
		if _, err := c.PutIf(ctx, "head/latest", strings.NewReader("one"), "v-never-issued"); !errors.Is(err, store.ErrChanged) {
			t.Fatalf("PutIf of a missing object with a version: %v, want store.ErrChanged", err)
		}
		v1, err := c.PutIf(ctx, "head/latest", strings.NewReader("one"), "")
		if err != nil || v1 == "" {
			t.Fatalf("first PutIf = %q, %v", v1, err)
		}
		if _, err := c.PutIf(ctx, "head/latest", strings.NewReader("rival"), ""); !errors.Is(err, store.ErrChanged) {
			t.Fatalf("PutIf expecting no object when there is one: %v, want store.ErrChanged", err)
		}
		data, v, err := c.Get(ctx, "head/latest")
		if err != nil || string(data) != "one" || v != v1 {
			t.Fatalf("Get = %q, %q, %v; want one, %q", data, v, err, v1)
		}
		v2, err := c.PutIf(ctx, "head/latest", strings.NewReader("two"), v1)
		if err != nil || v2 == "" || v2 == v1 {
			t.Fatalf("PutIf with the current version = %q, %v (previous version %q)", v2, err, v1)
		}
		if _, err := c.PutIf(ctx, "head/latest", strings.NewReader("stale"), v1); !errors.Is(err, store.ErrChanged) {
			t.Fatalf("PutIf with a stale version: %v, want store.ErrChanged", err)
		}
		if data, v, _ := c.Get(ctx, "head/latest"); string(data) != "two" || v != v2 {
			t.Fatalf("after a refused PutIf Get = %q, %q; want two, %q", data, v, v2)
		}
		// What Open reads is what Get and PutIf saw.
		b, err := store.ReadAll(ctx, s, "head/latest")
		if err != nil || string(b) != "two" {
			t.Fatalf("ReadAll = %q, %v", b, err)
		}
		// A failed write changes nothing.
		boom := errors.New("boom")
		if _, err := c.PutIf(ctx, "head/latest", io.MultiReader(strings.NewReader("thr"), errReader{boom}), v2); !errors.Is(err, boom) {
			t.Fatalf("PutIf with a failing reader: %v, want boom", err)
		}
		if data, v, _ := c.Get(ctx, "head/latest"); string(data) != "two" || v != v2 {
			t.Fatalf("after a failed PutIf Get = %q, %q; want two, %q", data, v, v2)
		}
		if _, err := c.PutIf(ctx, "../x", strings.NewReader("x"), ""); !errors.Is(err, store.ErrBadName) {
			t.Fatalf("PutIf with a bad name: %v", err)
		}
		if _, _, err := c.Get(ctx, "a//b"); !errors.Is(err, store.ErrBadName) {
			t.Fatalf("Get with a bad name: %v", err)
		}
	})

	t.Run("NoLostUpdate", func(t *testing.T) {
		_, c := cas(t)
		// Writers increment a counter by read-modify-PutIf, retrying
		// when another got in first: no increment may be lost.
		const writers, each = 6, 5
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range each {
					for {
						data, v, err := c.Get(ctx, "counter")
						n := 0
						switch {
						case errors.Is(err, fs.ErrNotExist):
						case err != nil:
							t.Error(err)
							return
						default:
							n, _ = strconv.Atoi(string(data))
						}
						_, err = c.PutIf(ctx, "counter", strings.NewReader(strconv.Itoa(n+1)), v)
						if err == nil {
							break
						}
						if !errors.Is(err, store.ErrChanged) {
							t.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		data, _, err := c.Get(ctx, "counter")
		if err != nil || string(data) != strconv.Itoa(writers*each) {
			t.Fatalf("counter = %q, %v; want %d", data, err, writers*each)
		}
	})
}
