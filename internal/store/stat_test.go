package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// headOnly is a store with a Stater whose Open counts: an object store,
// where Open is a GET of the whole object and Stat a HEAD.
type headOnly struct {
	*store.Mem
	opens, stats int
}

func (h *headOnly) Open(ctx context.Context, name string) (store.File, error) {
	h.opens++
	return h.Mem.Open(ctx, name)
}

func (h *headOnly) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	h.stats++
	f, err := h.Mem.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// TestExistsDoesNotRead: Exists and Stat describe an object through the
// store's Stater and never open it (a fill-through proxy asks whether a
// zip is there on every request; on S3 an Open is a GET of the zip).
func TestExistsDoesNotRead(t *testing.T) {
	ctx := context.Background()
	h := &headOnly{Mem: store.NewMem()}
	if err := h.Put(ctx, "download/m/@v/v1.0.0.zip", strings.NewReader("zip")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"download/m/@v/v1.0.0.zip", "download/m/@v/v2.0.0.zip"} {
		if _, err := store.Exists(ctx, h, name); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := store.Stat(ctx, h, "download/m/@v/v1.0.0.zip"); err != nil || fi.Size() != 3 || fi.ModTime().After(time.Now()) {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if h.opens != 0 || h.stats != 3 {
		t.Fatalf("%d opens and %d stats; want 0 and 3", h.opens, h.stats)
	}
}
