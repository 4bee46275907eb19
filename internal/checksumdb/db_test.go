package checksumdb

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/store"
)

func TestDBImportHeads(t *testing.T) {
	ctx := context.Background()
	sdb := newTestDB(t)
	fx := fixtures(t)
	sdb.AddFiller(t, 300)
	addHashes(t, sdb, fx[0])
	sdb.AddFiller(t, 7)
	p1, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx[:1]})
	if err != nil {
		t.Fatal(err)
	}
	sdb.AddFiller(t, 500)
	addHashes(t, sdb, fx[1])
	sdb.AddFiller(t, 3)
	// Captured without the offline side's head: cannot prove head 1.
	p2, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx[1:2]})
	if err != nil {
		t.Fatal(err)
	}
	newDB := func() *DB {
		st, err := store.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		db, err := NewDB(st, sdb.Key)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}

	db := newDB()
	if _, err := db.Import(ctx, p1.Files); err != nil {
		t.Fatal(err)
	}
	_, err = db.Import(ctx, p2.Files)
	var ue *UnprovableError
	if !errors.As(err, &ue) {
		t.Fatalf("import of a newer head without consistency tiles: %v", err)
	}
	t.Logf("refused: %v", err)
	if h, _ := db.Head(ctx); h.N != p1.Head.N {
		t.Fatalf("head moved to %d", h.N)
	}

	// With the inventory's heads it goes through, and heads are kept.
	p2b, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx[1:2], OldHeads: [][]byte{p1.Head.Note}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(ctx, p2b.Files); err != nil {
		t.Fatal(err)
	}
	hs, _ := db.Heads(ctx)
	if len(hs) != 2 || hs[0].N != p1.Head.N || hs[1].N != p2b.Head.N {
		t.Fatalf("heads %v", hs)
	}
	// The older proof again: accepted, head stays.
	res, err := db.Import(ctx, p1.Files)
	if err != nil || res.Head.N != p2b.Head.N {
		t.Fatalf("re-import older: %v %v", res, err)
	}

	// A tile that disagrees with a held one is refused.
	bad := make(map[string][]byte)
	for k, v := range p2b.Files {
		bad[k] = v
	}
	for k, v := range bad {
		if len(k) > 5 && k[:5] == "tile/" {
			v = bytes.Clone(v)
			v[0] ^= 1
			bad[k] = v
			break
		}
	}
	if _, err := db.Import(ctx, bad); !errors.Is(err, ErrSecurity) {
		t.Fatalf("conflicting tile: %v", err)
	}

	// Importing into an empty store a proof whose head is older than
	// what a second store holds is independent; an empty store takes any.
	if _, err := newDB().Import(ctx, p2.Files); err != nil {
		t.Fatal(err)
	}
}

// TestDBImportModulesChecksHashes: ImportModules refuses a proof whose
// record disagrees with the hashes carried, and stores nothing then.
func TestDBImportModulesChecksHashes(t *testing.T) {
	ctx := context.Background()
	sdb := newTestDB(t)
	fx := fixtures(t)
	sdb.AddFiller(t, 300)
	addHashes(t, sdb, fx[0])
	p, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx[:1]})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := NewDB(st, sdb.Key)
	if err != nil {
		t.Fatal(err)
	}
	wrong := fx[0]
	wrong.ZipHash = checksumdbtest.FakeHash("not the zip")
	_, err = db.ImportModules(ctx, p.Files, []ModuleHashes{wrong})
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrSecurity) {
		t.Fatalf("ImportModules with a wrong zip hash: %v, want a MismatchError", err)
	}
	if h, err := db.Head(ctx); err == nil {
		t.Fatalf("a refused import moved the head to %d", h.N)
	}
	if _, err := db.ImportModules(ctx, p.Files, fx[:1]); err != nil {
		t.Fatalf("ImportModules with the right hashes: %v", err)
	}
}
