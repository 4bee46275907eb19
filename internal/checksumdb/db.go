package checksumdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/trace"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// A DB is one checksum database's proofs in a store, under
// "sumdb/<name>/":
//
//	latest             the head served now; only ever moves forward
//	heads/<size>       every head ever served, so clients holding one
//	                   can still be given what they need to re-check it
//	lookup/<p>@<v>     lookups as served
//	tile/...           hash tiles at the widths imported; narrower ones
//	                   are served cut from wider ones
//
// Imports within one process are serialized; several processes importing
// into one store at once are not supported.
type DB struct {
	st   store.Store
	name string
	key  string
	v    note.Verifier

	mu sync.Mutex
}

// NewDB returns the DB of the database whose verifier key is verifierKey.
func NewDB(st store.Store, verifierKey string) (*DB, error) {
	v, err := newVerifier("", verifierKey)
	if err != nil {
		return nil, err
	}
	if err := store.CheckName(v.Name()); err != nil || strings.Contains(v.Name(), "/") {
		return nil, fmt.Errorf("checksum database name %q unusable as a store name", v.Name())
	}
	return &DB{st: st, name: v.Name(), key: strings.TrimSpace(verifierKey), v: v}, nil
}

// Name returns the database name.
func (db *DB) Name() string { return db.name }

// Key returns the database's verifier key.
func (db *DB) Key() string { return db.key }

func (db *DB) obj(p string) string { return "sumdb/" + db.name + "/" + p }

func (db *DB) read(ctx context.Context, p string) ([]byte, error) {
	return store.ReadAll(ctx, db.st, db.obj(p))
}

// Head returns the head served now; an error matching fs.ErrNotExist if
// nothing was imported yet.
func (db *DB) Head(ctx context.Context) (*Head, error) {
	msg, err := db.read(ctx, "latest")
	if err != nil {
		return nil, err
	}
	return openHead(msg, db.v, db.obj("latest"))
}

// Heads returns every head ever served, by tree size. One is kept per
// import (and per fill-through capture), so they are read several at
// once (store.Concurrency): on an object store each is a round trip.
func (db *DB) Heads(ctx context.Context) ([]*Head, error) {
	names, err := db.st.List(ctx, db.obj("heads"))
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasSuffix(n, "/") })
	hs := make([]*Head, len(names))
	err = store.EachLimit(ctx, store.Concurrency(db.st), len(names), func(ctx context.Context, i int) error {
		msg, err := db.read(ctx, "heads/"+names[i])
		if err != nil {
			return err
		}
		hs[i], err = openHead(msg, db.v, db.obj("heads/"+names[i]))
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].N < hs[j].N })
	return hs, nil
}

// Lookup returns the lookup response for m, or an error matching
// fs.ErrNotExist.
func (db *DB) Lookup(ctx context.Context, m module.Version) ([]byte, error) {
	p, err := modfiles.LookupPath(m)
	if err != nil {
		return nil, &fs.PathError{Op: "lookup", Path: m.String(), Err: fs.ErrNotExist}
	}
	return db.read(ctx, p)
}

// Tile returns tile t: as stored, or cut from a wider tile at the same
// position. Tiles not held give an error matching fs.ErrNotExist.
func (db *DB) Tile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	data, err := db.read(ctx, t.Path())
	if err == nil || !errors.Is(err, fs.ErrNotExist) || t.L < 0 {
		return data, err
	}
	ws, err := db.tileWidths(ctx, t)
	if err != nil {
		return nil, err
	}
	for w, d := range ws {
		if w >= t.W && len(d) >= tileSize(t) {
			return d[:tileSize(t)], nil
		}
	}
	return nil, errTileMissing(t)
}

// tileWidths returns every tile held at t's position, by width.
func (db *DB) tileWidths(ctx context.Context, t tlog.Tile) (map[int][]byte, error) {
	ws := make(map[int][]byte)
	full := fullTile(t)
	if d, err := db.read(ctx, full.Path()); err == nil {
		ws[full.W] = d
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	names, err := db.st.List(ctx, db.obj(full.Path()+".p"))
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		w, err := strconv.Atoi(n)
		if err != nil || w <= 0 || w >= full.W {
			continue
		}
		pt := t
		pt.W = w
		d, err := db.read(ctx, pt.Path())
		if err != nil {
			return nil, err
		}
		ws[w] = d
	}
	return ws, nil
}

// ImportResult reports what an import did.
type ImportResult struct {
	Imported *Head // the proof's head
	Head     *Head // the head served after the import
	Lookups  int   // lookups written (new, or carrying a newer head)
	Tiles    int   // tiles written
	// Unused lists proof files no client check needed; they are not
	// stored.
	Unused []string
}

// Import checks a proof (files by path relative to the database root, as
// in [Proof.Files]) against what the store holds and adds it. It refuses
// the proof unless a go client, fresh or holding any head ever served,
// accepts every lookup in it using only the tiles of the proof and the
// store; so the served head only moves forward, and a proof whose head is
// older than the store's is accepted only if the store's tiles prove it is
// a prefix of the store's head. Lookups already held keep the newer of the
// two heads; their records must not differ.
func (db *DB) Import(ctx context.Context, files map[string][]byte) (*ImportResult, error) {
	return db.ImportModules(ctx, files, nil)
}

// ImportModules is Import that also checks each module's record against
// the hashes given (as Verify does), in the same client pass. With modules
// nil, every lookup in files is checked for inclusion only.
func (db *DB) ImportModules(ctx context.Context, files map[string][]byte, modules []ModuleHashes) (*ImportResult, error) {
	db.mu.Lock()
	defer db.mu.Unlock()

	region := trace.StartRegion(ctx, "checksumdb: read proof")
	wants, pool, err := db.readProof(ctx, files)
	region.End()
	if err != nil {
		return nil, err
	}
	if modules != nil {
		wants = dedupe(modules)
	}
	region = trace.StartRegion(ctx, "checksumdb: check")
	head, used, err := db.checkImport(ctx, files, pool, wants)
	region.End()
	if err != nil {
		return nil, err
	}
	// Tiles first, then lookups, then heads: a reader never sees a
	// lookup or head whose tiles are missing.
	res := &ImportResult{Imported: head}
	region = trace.StartRegion(ctx, "checksumdb: write")
	err = db.writeProof(ctx, files, used, wants, head, res)
	region.End()
	if err != nil {
		return nil, err
	}
	region = trace.StartRegion(ctx, "checksumdb: advance")
	res.Head, err = db.advance(ctx, head)
	region.End()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// readProof sorts the proof's files: it returns the modules of its
// lookups (sorted), and a pool of its tiles beside the widths the store
// holds of each, which must agree with them.
func (db *DB) readProof(ctx context.Context, files map[string][]byte) ([]ModuleHashes, *tilePool, error) {
	var wants []ModuleHashes
	var tiles []tlog.Tile
	for _, p := range sortedKeys(mapKeys(files)) {
		switch {
		case p == "latest":
		case strings.HasPrefix(p, "lookup/"):
			m, err := modfiles.ParseLookupPath(p)
			if err != nil {
				return nil, nil, &RecordError{File: p, Err: err}
			}
			if canon, _ := modfiles.LookupPath(m); canon != p {
				return nil, nil, &RecordError{File: p, Err: fmt.Errorf("not a canonical lookup path (%s)", canon)}
			}
			wants = append(wants, ModuleHashes{Version: m})
		case strings.HasPrefix(p, "tile/"):
			t, err := tlog.ParseTilePath(p)
			if err != nil || t.Path() != p || t.L < 0 || t.H != tileHeight {
				return nil, nil, fmt.Errorf("checksum proof: unexpected tile %q", p)
			}
			tiles = append(tiles, t)
		default:
			return nil, nil, fmt.Errorf("checksum proof: unexpected file %q", p)
		}
	}
	// The widths the store holds of each tile: reads of the store,
	// several at once (on an object store each is a round trip).
	held := make([]map[int][]byte, len(tiles))
	err := store.Each(ctx, len(tiles), func(ctx context.Context, i int) (err error) {
		held[i], err = db.tileWidths(ctx, tiles[i])
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	pool := newTilePool()
	for i, t := range tiles {
		if err := pool.add(t, files[t.Path()]); err != nil {
			return nil, nil, err
		}
		for w, d := range held[i] {
			ht := t
			ht.W = w
			if err := pool.add(ht, d); err != nil {
				return nil, nil, &TileConflictError{Path: t.Path(), Other: db.obj(ht.Path()) + " (held)"}
			}
		}
	}
	sort.Slice(wants, func(i, j int) bool { return wants[i].Version.String() < wants[j].Version.String() })
	return wants, pool, nil
}

// checkImport runs a go client over the proof's files and the store's
// tiles, fresh and from every head the store ever served, checking the
// lookups of wants. It returns the proof's head and the files the client
// read.
func (db *DB) checkImport(ctx context.Context, files map[string][]byte, pool *tilePool, wants []ModuleHashes) (*Head, map[string]bool, error) {
	heads, err := db.Heads(ctx)
	if err != nil {
		return nil, nil, err
	}
	src := func(p string) ([]byte, error) {
		if d, ok := files[p]; ok {
			return d, nil
		}
		if t, err := tlog.ParseTilePath(p); err == nil && t.L >= 0 {
			if d, ok := pool.get(t, true); ok {
				return d, nil
			}
			return db.Tile(ctx, t)
		}
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
	head, used, err := checkProof(src, checkOptions{verifierKey: db.key, verifier: db.v, wants: wants, startHeads: heads})
	if err != nil {
		var ie *IncompleteError
		if errors.As(err, &ie) && len(heads) > 0 {
			return nil, nil, fmt.Errorf("import refused: %w (export again with --since a current inventory)", err)
		}
		return nil, nil, fmt.Errorf("import refused: %w", err)
	}
	return head, used, nil
}

// writeProof writes the used tiles the store lacks, then the lookups of
// wants that are new or carry an older head than head, in one batch:
// tiles first, so a reader never sees a lookup whose tiles are missing.
// It counts them in res, and lists the unused tiles there.
func (db *DB) writeProof(ctx context.Context, files map[string][]byte, used map[string]bool, wants []ModuleHashes, head *Head, res *ImportResult) error {
	var tiles []string
	for _, p := range sortedKeys(mapKeys(files)) {
		if !strings.HasPrefix(p, "tile/") {
			continue
		}
		if !used[p] {
			res.Unused = append(res.Unused, p)
			continue
		}
		tiles = append(tiles, p)
	}
	// What the store holds already: a read per file, several at once
	// (on an object store, one at a time is a round trip each).
	held := make([]bool, len(tiles))
	err := store.Each(ctx, len(tiles), func(ctx context.Context, i int) (err error) {
		held[i], err = store.Exists(ctx, db.st, db.obj(tiles[i]))
		return err
	})
	if err != nil {
		return err
	}
	var newTiles, newLookups []store.Object
	for i, p := range tiles {
		if !held[i] { // a held one is equal: conflicts were refused above
			newTiles = append(newTiles, store.Object{Name: db.obj(p), Data: files[p], IfAbsent: true})
		}
	}
	lookups := make([]string, len(wants))
	write := make([]bool, len(wants))
	err = store.Each(ctx, len(wants), func(ctx context.Context, i int) (err error) {
		lookups[i], _ = modfiles.LookupPath(wants[i].Version)
		write[i], err = db.newerLookup(ctx, lookups[i], files[lookups[i]], head)
		return err
	})
	if err != nil {
		return err
	}
	for i, p := range lookups {
		if write[i] {
			newLookups = append(newLookups, store.Object{Name: db.obj(p), Data: files[p]})
		}
	}
	res.Tiles, res.Lookups = len(newTiles), len(newLookups)
	// The tiles before the lookups; one durability barrier for all of
	// them on a store that batches.
	return store.WriteGroups(ctx, db.st, newTiles, newLookups)
}

// advance records head among the heads served, after its tiles and
// lookups, and makes it the latest if it is newer than the store's. It
// returns the head served afterwards.
func (db *DB) advance(ctx context.Context, head *Head) (*Head, error) {
	hp := "heads/" + strconv.FormatInt(head.N, 10)
	if err := db.st.Create(ctx, db.obj(hp), bytes.NewReader(head.Note)); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return db.advanceHead(ctx, head)
}

// newerLookup reports whether the lookup data (carrying head) should
// replace the one held at p: yes if none is held or the held one carries
// an older head. The records must agree.
func (db *DB) newerLookup(ctx context.Context, p string, data []byte, head *Head) (bool, error) {
	held, err := db.read(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	hid, htext, hhead, err := tlog.ParseRecord(held)
	if err != nil {
		return true, nil // unreadable: replace with the checked one
	}
	id, text, _, _ := tlog.ParseRecord(data)
	if hid != id || !bytes.Equal(htext, text) {
		return false, fmt.Errorf("%w: %s: record differs from the one held (record %d vs %d)", ErrSecurity, p, id, hid)
	}
	hh, err := openHead(hhead, db.v, db.obj(p))
	if err != nil {
		return true, nil
	}
	return head.N > hh.N, nil
}

func mapKeys(m map[string][]byte) map[string]bool {
	ks := make(map[string]bool, len(m))
	for k := range m {
		ks[k] = true
	}
	return ks
}
