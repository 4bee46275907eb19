package checksumdb

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/modferry/modferry/internal/modfiles"
)

// CaptureOptions says what to capture.
type CaptureOptions struct {
	// Name is the database name, such as "sum.golang.org". Empty means
	// the name in VerifierKey.
	Name string
	// VerifierKey is the database's note verifier key, "name+hash+base64".
	VerifierKey string
	// Fetch GETs path relative to the database's base URL ("latest",
	// "lookup/...", "tile/8/0/000"), for example through an upstream
	// proxy's "/sumdb/<name>/" endpoint. It must return an error for
	// anything but a 200 response.
	Fetch func(ctx context.Context, path string) ([]byte, error)
	// Modules are the module versions to prove, with the hashes carried.
	Modules []ModuleHashes
	// OldHeads are signed heads the offline side holds (from its
	// inventory). The proof then also lets clients holding any of them
	// re-check it and accept the new head.
	OldHeads [][]byte
	// Concurrency bounds parallel fetches; 0 means 32.
	Concurrency int
	// Cache, if not nil, keeps the files that never change (lookups'
	// records and full tiles) from one Capture to the next.
	Cache Cache
}

// A Cache keeps what a checksum database serves that never changes, the
// records of lookups and full tiles, from one Capture to the next, by
// path ("lookup/...", "tile/8/0/000"). Capture checks what it reads from
// it as it checks what it fetches: a record's hashes against the module's
// and its place in the newest head's tree through the tiles, a tile
// against that tree; a cached lookup whose record does not hold the
// module's hashes is fetched again. A Cache must be safe for concurrent
// use; Put may drop what it is given.
type Cache interface {
	Get(path string) ([]byte, bool)
	Put(path string, data []byte)
}

// A Proof is what a client needs to verify a set of modules against one
// signed head of a checksum database, with no network.
type Proof struct {
	Name string
	Head *Head
	// Files maps paths relative to the database root ("latest",
	// "lookup/<escaped path>@<escaped version>", "tile/8/0/000.p/5") to
	// their contents, as the database serves them.
	Files map[string][]byte
}

// Paths returns the proof's file paths, sorted.
func (p *Proof) Paths() []string {
	ps := make([]string, 0, len(p.Files))
	for k := range p.Files {
		ps = append(ps, k)
	}
	sort.Strings(ps)
	return ps
}

// Size returns the total size of the proof's files in bytes.
func (p *Proof) Size() int64 {
	var n int64
	for _, d := range p.Files {
		n += int64(len(d))
	}
	return n
}

// Capture fetches, checks and returns the proof for o.Modules. It fails
// with a *MismatchError if the database's hash for a module differs from
// the one given, and with other errors matching ErrSecurity if the
// database misbehaves. Its last step runs a go checksum-database client
// over the captured files alone, fresh and from every old head; any file
// that client lacks is reported as an *IncompleteError.
func Capture(ctx context.Context, o CaptureOptions) (*Proof, error) {
	v, err := newVerifier(o.Name, o.VerifierKey)
	if err != nil {
		return nil, err
	}
	c := &capture{v: v, pool: newTilePool(), cache: o.Cache}
	c.fetch = func(p string) ([]byte, error) {
		data, err := o.Fetch(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("checksum database %s: %s: %w", v.Name(), p, err)
		}
		return data, nil
	}
	wants := dedupe(o.Modules)
	latest, lookups, lookupHeads, err := c.fetchLookups(ctx, wants, o.Concurrency)
	if err != nil {
		return nil, err
	}
	old, err := openOldHeads(v, o.OldHeads)
	if err != nil {
		return nil, err
	}
	heads := append(append([]*Head{latest}, lookupHeads...), old...)
	head := newest(heads)
	tr := newRecordingReader(c.tile)
	thr := tlog.TileHashReader(head.Tree, tr)
	// The consistency checks and the inclusion proofs read their tiles
	// at once: each tree hash is a round trip for its tiles, and the
	// lookups' heads are of many sizes (a proxy serves a cached lookup
	// with the head it had then).
	var consistent, proved error
	var wg sync.WaitGroup
	wg.Go(func() { consistent = checkConsistent(head, heads, old, thr, tr) })
	wg.Go(func() { proved = proveRecords(head, lookups, thr) })
	wg.Wait()
	if err := cmp.Or(consistent, proved); err != nil {
		return nil, err
	}
	files, err := c.files(head, lookups, tr)
	if err != nil {
		return nil, err
	}
	// Self-check: the go client over these files alone.
	src, err := mapSource(files, false)
	if err != nil {
		return nil, err
	}
	if _, _, err := checkProof(src, checkOptions{
		verifierKey: o.VerifierKey,
		verifier:    v,
		wants:       wants,
		startHeads:  old,
		strict:      true,
	}); err != nil {
		return nil, fmt.Errorf("capture self-check: %w", err)
	}
	return &Proof{Name: v.Name(), Head: head, Files: files}, nil
}

// capture is the state of one Capture: how to fetch files from the
// database and verify its notes, and the tiles fetched.
type capture struct {
	v        note.Verifier
	fetch    func(path string) ([]byte, error)
	pool     *tilePool
	cache    Cache              // nil: none
	inflight singleflight.Group // tile paths: concurrent checks read a tile once
}

// cached returns the file at path p from the cache, if there is one.
func (c *capture) cached(p string) ([]byte, bool) {
	if c.cache == nil {
		return nil, false
	}
	return c.cache.Get(p)
}

// keep puts the file at path p into the cache, if there is one.
func (c *capture) keep(p string, data []byte) {
	if c.cache != nil {
		c.cache.Put(p, data)
	}
}

// fetchLookups fetches the database's latest head and, par (0: 32) at a
// time, the lookup of every module in wants; it checks each lookup's
// hashes against the wanted ones and its signed head. It returns the
// latest head, the lookups in the order of wants, and the heads of the
// lookups fetched (not of those read from the cache: the record is proved
// against the newest head, and every lookup carries that head in the
// proof).
func (c *capture) fetchLookups(ctx context.Context, wants []ModuleHashes, par int) (*Head, []*lookup, []*Head, error) {
	if par <= 0 {
		par = 32
	}
	latestMsg, err := c.fetch("latest")
	if err != nil {
		return nil, nil, nil, err
	}
	latest, err := openHead(latestMsg, c.v, "latest")
	if err != nil {
		return nil, nil, nil, err
	}
	lookups := make([]*lookup, len(wants))
	heads := make([]*Head, len(wants))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for i, w := range wants {
		if lk := c.cachedLookup(w, latest); lk != nil {
			lookups[i] = lk
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			lk, h, err := c.fetchLookup(w)
			lookups[i], heads[i] = lk, h
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, nil, err
	}
	fetched := heads[:0]
	for _, h := range heads {
		if h != nil {
			fetched = append(fetched, h)
		}
	}
	return latest, lookups, fetched, nil
}

// cachedLookup returns the lookup of w from the cache if it is there,
// holds w's hashes and has a record id inside latest's tree; else nil.
func (c *capture) cachedLookup(w ModuleHashes, latest *Head) *lookup {
	file, err := modfiles.LookupPath(w.Version)
	if err != nil {
		return nil
	}
	data, ok := c.cached(file)
	if !ok {
		return nil
	}
	lk, err := parseLookup(file, w.Version, data)
	if err != nil || lk.id < 0 || lk.id >= latest.N || checkHashes(w, lk.text) != nil {
		return nil
	}
	return lk
}

// fetchLookup fetches and checks the lookup of one module.
func (c *capture) fetchLookup(w ModuleHashes) (*lookup, *Head, error) {
	file, err := modfiles.LookupPath(w.Version)
	if err != nil {
		return nil, nil, err
	}
	data, err := c.fetch(file)
	if err != nil {
		return nil, nil, err
	}
	lk, err := parseLookup(file, w.Version, data)
	if err != nil {
		return nil, nil, err
	}
	if err := checkHashes(w, lk.text); err != nil {
		return nil, nil, err
	}
	h, err := openHead(lk.head, c.v, file)
	if err != nil {
		return nil, nil, err
	}
	if lk.id < 0 || lk.id >= h.N {
		return nil, nil, &InclusionError{Module: w.Version, Err: fmt.Errorf("record id %d outside its tree of size %d", lk.id, h.N)}
	}
	c.keep(file, data)
	return lk, h, nil
}

// openOldHeads verifies and parses the signed heads the offline side holds.
func openOldHeads(v note.Verifier, msgs [][]byte) ([]*Head, error) {
	var old []*Head
	for i, msg := range msgs {
		h, err := openHead(msg, v, fmt.Sprintf("old head #%d", i+1))
		if err != nil {
			return nil, err
		}
		old = append(old, h)
	}
	return old, nil
}

// newest returns the head of the largest tree, the first of heads if
// several are as large.
func newest(heads []*Head) *Head {
	head := heads[0]
	for _, h := range heads {
		if h.N > head.N {
			head = h
		}
	}
	return head
}

// checkConsistent checks that every one of heads is a prefix of head, the
// newest, read through thr; and that each old head's tree hashes to its
// own hash at its own tile widths, as a client holding it re-checks it.
// The trees are hashed concurrently; the error is that of the first
// failing head in this order.
func checkConsistent(head *Head, heads, old []*Head, thr tlog.HashReader, tr tlog.TileReader) error {
	seen := make(map[tlog.Tree]bool)
	var checks []func() error
	for _, h := range heads {
		if seen[h.Tree] {
			continue
		}
		seen[h.Tree] = true
		checks = append(checks, func() error {
			got, err := tlog.TreeHash(h.N, thr)
			if err != nil {
				return fmt.Errorf("checking tree of size %d against tree of size %d: %w", h.N, head.N, err)
			}
			if got != h.Hash {
				return &ForkError{Older: h, Newer: head}
			}
			return nil
		})
	}
	for _, h := range old {
		checks = append(checks, func() error {
			got, err := tlog.TreeHash(h.N, tlog.TileHashReader(h.Tree, tr))
			if err != nil {
				return fmt.Errorf("re-checking old tree of size %d: %w", h.N, err)
			}
			if got != h.Hash {
				return &ForkError{Older: h, Newer: h, Detail: "tiles do not match the head's own hash"}
			}
			return nil
		})
	}
	errs := make([]error, len(checks))
	var g errgroup.Group
	g.SetLimit(16)
	for i, check := range checks {
		g.Go(func() error { errs[i] = check(); return nil })
	}
	g.Wait()
	return cmp.Or(errs...)
}

// proveRecords checks, in one batch of hash reads through thr, that every
// lookup's record is in head's tree.
func proveRecords(head *Head, lookups []*lookup, thr tlog.HashReader) error {
	if len(lookups) == 0 {
		return nil
	}
	indexes := make([]int64, len(lookups))
	for i, lk := range lookups {
		indexes[i] = tlog.StoredHashIndex(0, lk.id)
	}
	hashes, err := thr.ReadHashes(indexes)
	if err != nil {
		return fmt.Errorf("%w: proving records in tree of size %d: %w", ErrSecurity, head.N, err)
	}
	for i, lk := range lookups {
		if hashes[i] != tlog.RecordHash(lk.text) {
			return &InclusionError{Module: lk.mod, Err: fmt.Errorf("record %d does not match the tree", lk.id)}
		}
	}
	return nil
}

// files returns the proof's files: head as "latest", every lookup
// rewritten to carry head, and every tile tr read.
func (c *capture) files(head *Head, lookups []*lookup, tr *recordingReader) (map[string][]byte, error) {
	files := map[string][]byte{"latest": head.Note}
	for _, lk := range lookups {
		file, _ := modfiles.LookupPath(lk.mod)
		msg, err := tlog.FormatRecord(lk.id, lk.text)
		if err != nil {
			return nil, &RecordError{File: file, Err: err}
		}
		files[file] = append(msg, head.Note...)
	}
	for _, p := range tr.paths() {
		t, _ := tlog.ParseTilePath(p)
		data, ok := c.pool.get(t, true)
		if !ok {
			return nil, fmt.Errorf("internal error: tile %s read but not held", p)
		}
		files[p] = data
	}
	return files, nil
}

// tile returns tile t from the pool, else cut from the full tile in the
// cache, else fetched; a partial tile the server no longer has is cut
// from the full one (tiles only grow). Full tiles fetched go to the
// cache.
func (c *capture) tile(t tlog.Tile) ([]byte, error) {
	if data, ok := c.pool.get(t, true); ok {
		return data, nil
	}
	data, err, _ := c.inflight.Do(t.Path(), func() (any, error) { return c.tileOnce(t) })
	if err != nil {
		return nil, err
	}
	return data.([]byte), nil
}

// tileOnce is tile for one caller at a time per tile path.
func (c *capture) tileOnce(t tlog.Tile) ([]byte, error) {
	if data, ok := c.pool.get(t, true); ok {
		return data, nil
	}
	full := fullTile(t)
	if data, ok := c.cached(full.Path()); ok && c.pool.add(full, data) == nil {
		if data, ok := c.pool.get(t, true); ok {
			return data, nil
		}
	}
	data, err := fetchTile(c.fetch, c.pool, t)
	if err == nil {
		if data, ok := c.pool.get(full, false); ok {
			c.keep(full.Path(), data)
		}
	}
	return data, err
}

// fetchTile returns tile t from pool, else fetches it; a partial tile the
// server no longer has is cut from the full one (tiles only grow).
func fetchTile(fetch func(string) ([]byte, error), pool *tilePool, t tlog.Tile) ([]byte, error) {
	if data, ok := pool.get(t, true); ok {
		return data, nil
	}
	data, err := fetch(t.Path())
	got := t
	if err != nil {
		full := fullTile(t)
		if full == t {
			return nil, err
		}
		var ferr error
		data, ferr = fetch(full.Path())
		if ferr != nil {
			return nil, err
		}
		got = full
	}
	if err := pool.add(got, data); err != nil {
		return nil, err
	}
	return data[:tileSize(t)], nil
}
