package checksumdb

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/modferry/modferry/internal/store"
)

// rivalStore runs rival once, just before the first PutIf: another
// importer writing between this one's read and its write.
type rivalStore struct {
	*store.Mem
	rival func()
}

func (r *rivalStore) PutIf(ctx context.Context, name string, rd io.Reader, version string) (string, error) {
	if f := r.rival; f != nil {
		r.rival = nil
		f()
	}
	return r.Mem.PutIf(ctx, name, rd, version)
}

// TestHeadNeverMovesBack: an import of an older head that races with the
// import of a newer one leaves the newer head served.
func TestHeadNeverMovesBack(t *testing.T) {
	ctx := context.Background()
	sdb := newTestDB(t)
	fx := fixtures(t)
	sdb.AddFiller(t, 20)
	addHashes(t, sdb, fx[0])
	old, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx[:1]})
	if err != nil {
		t.Fatal(err)
	}
	sdb.AddFiller(t, 30)
	addHashes(t, sdb, fx[1])
	newer, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx[1:2], OldHeads: [][]byte{old.Head.Note}})
	if err != nil {
		t.Fatal(err)
	}
	if newer.Head.N <= old.Head.N {
		t.Fatalf("heads %d, %d: want growth", old.Head.N, newer.Head.N)
	}

	st := &rivalStore{Mem: store.NewMem()}
	db, err := NewDB(st, sdb.Key)
	if err != nil {
		t.Fatal(err)
	}
	// The rival's head lands after this import read "latest" (none yet)
	// and before it writes.
	st.rival = func() {
		if _, err := st.Mem.PutIf(ctx, db.obj("latest"), bytes.NewReader(newer.Head.Note), ""); err != nil {
			t.Errorf("rival write: %v", err)
		}
	}
	res, err := db.Import(ctx, old.Files)
	if err != nil {
		t.Fatal(err)
	}
	if st.rival != nil {
		t.Fatal("the import never wrote the head through PutIf")
	}
	if res.Head.N != newer.Head.N {
		t.Fatalf("import reports head %d, want the rival's %d", res.Head.N, newer.Head.N)
	}
	if h, err := db.Head(ctx); err != nil || h.N != newer.Head.N {
		t.Fatalf("served head %v, %v; want %d: the head moved back", h, err, newer.Head.N)
	}
}
