package checksumdb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/modfiles"
)

// ModuleHashes is a module version with the go.sum hashes carried for it.
type ModuleHashes struct {
	module.Version
	ZipHash string // h1: hash of the zip; "" for go.mod-only versions
	ModHash string // h1: hash of the go.mod; "" for toolchain modules
}

// A source reads files relative to a database root ("latest",
// "lookup/...", "tile/..."). Missing files are errors matching
// fs.ErrNotExist.
type source func(path string) ([]byte, error)

// mapSource reads from files; with cut, a tile not held at the width asked
// for is cut from a wider one, as a modferry server does.
func mapSource(files map[string][]byte, cut bool) (source, error) {
	pool := newTilePool()
	for p, data := range files {
		if !strings.HasPrefix(p, "tile/") {
			continue
		}
		t, err := tlog.ParseTilePath(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if t.L < 0 {
			continue // record data tiles are never needed by clients
		}
		if err := pool.add(t, data); err != nil {
			return nil, err
		}
	}
	return func(p string) ([]byte, error) {
		if data, ok := files[p]; ok {
			return data, nil
		}
		if t, err := tlog.ParseTilePath(p); err == nil {
			if data, ok := pool.get(t, cut); ok {
				return data, nil
			}
		}
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}, nil
}

// tileReaderOf reads tiles from src.
func tileReaderOf(src source) *recordingReader {
	return newRecordingReader(func(t tlog.Tile) ([]byte, error) { return src(t.Path()) })
}

// checkOptions says what checkProof checks.
type checkOptions struct {
	verifierKey string
	verifier    note.Verifier
	// wants lists the modules whose lookups must be present and whose
	// hashes, when not empty, must match the records.
	wants []ModuleHashes
	// startHeads are heads a client may already hold: each must be
	// re-checkable (its own right-edge tiles) and consistent with the
	// proof's head, and a client starting from it must accept a lookup.
	startHeads []*Head
	// strict makes a request for a file not held exactly a failure even
	// when the client recovered by asking for a wider tile.
	strict bool
}

// checkProof verifies a proof read from src and reports its head and the
// paths of every file the checks read.
func checkProof(src source, o checkOptions) (*Head, map[string]bool, error) {
	latest, err := src("latest")
	if err != nil {
		return nil, nil, &IncompleteError{Missing: []string{"latest"}, Err: err}
	}
	head, err := openHead(latest, o.verifier, "latest")
	if err != nil {
		return nil, nil, err
	}
	used := map[string]bool{"latest": true}

	// Each lookup on its own (a signature check each), on every core;
	// the error is the first failing lookup's in wants order, as one
	// after the other would find.
	files := make([]string, len(o.wants))
	if err := eachInOrder(len(o.wants), func(i int) error {
		w := o.wants[i]
		file, err := modfiles.LookupPath(w.Version)
		if err != nil {
			return err
		}
		data, err := src(file)
		if err != nil {
			return &IncompleteError{Missing: []string{file}, Err: err}
		}
		lk, err := parseLookup(file, w.Version, data)
		if err != nil {
			return err
		}
		lh, err := openHead(lk.head, o.verifier, file)
		if err != nil {
			return err
		}
		if lh.Tree != head.Tree {
			return &RecordError{File: file, Err: fmt.Errorf("carries tree head of size %d, not the proof's head (size %d)", lh.N, head.N)}
		}
		if err := checkHashes(w, lk.text); err != nil {
			return err
		}
		files[i] = file
		return nil
	}); err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		used[f] = true
	}

	// Heads a client may hold: re-checkable by themselves, and on one
	// timeline with head.
	for _, h := range o.startHeads {
		tr := tileReaderOf(src)
		got, err := tlog.TreeHash(h.N, tlog.TileHashReader(h.Tree, tr))
		if err != nil {
			return nil, nil, missingOr(src, tr.paths(), &UnprovableError{Held: h, Imported: head, Err: err})
		}
		if got != h.Hash {
			return nil, nil, &ForkError{Older: h, Newer: h, Detail: "tiles do not match the head's own hash"}
		}
		older, newer := h, head
		if h.N > head.N {
			older, newer = head, h
		}
		got, err = tlog.TreeHash(older.N, tlog.TileHashReader(newer.Tree, tr))
		if err != nil {
			return nil, nil, missingOr(src, tr.paths(), &UnprovableError{Held: h, Imported: head, Err: err})
		}
		if got != older.Hash {
			return nil, nil, &ForkError{Older: older, Newer: newer}
		}
		for _, p := range tr.paths() {
			used[p] = true
		}
	}

	// The go client, over src alone: fresh, then from every start head.
	starts := append([]*Head{nil}, o.startHeads...)
	for _, h := range starts {
		wants := o.wants
		if h != nil && h.N <= head.N && len(wants) > 1 {
			// The first lookup moves the client to head; the rest is as
			// for a fresh client. A client holding a newer head checks
			// every record in its own tree, so it does them all.
			wants = wants[:1]
		}
		var start []byte
		if h != nil {
			start = h.Note
		}
		ops := &fileOps{key: o.verifierKey, name: o.verifier.Name(), src: src, latest: start,
			missing: make(map[string]bool), used: make(map[string]bool)}
		err := runClient(ops, wants)
		if err == nil && o.strict && len(ops.missing) > 0 {
			err = &IncompleteError{Missing: sortedKeys(ops.missing), Err: errors.New("client asked for files not captured")}
		}
		if err != nil {
			if h != nil {
				return nil, nil, fmt.Errorf("client holding tree head of size %d: %w", h.N, err)
			}
			return nil, nil, err
		}
		for p := range ops.used {
			used[p] = true
		}
	}
	return head, used, nil
}

// missingOr returns an IncompleteError if src lacks any of paths, else err.
func missingOr(src source, paths []string, err error) error {
	var missing []string
	for _, p := range paths {
		if _, e := src(p); e != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &IncompleteError{Missing: missing, Err: err}
	}
	return err
}

// runClient looks every module up with a golang.org/x/mod/sumdb.Client
// over ops, and checks the lines it returns against the hashes carried.
//
// The first lookup moves the client to the proof's head; the others are
// independent of each other and run on every core. If any fails, the
// lookups run again one after the other on a fresh client, so that the
// error (and what ops records of missing files) is the one a serial run
// gives: the first failing module's.
func runClient(ops *fileOps, wants []ModuleHashes) error {
	start := bytes.Clone(ops.latest)
	c := sumdb.NewClient(ops)
	if len(wants) == 0 {
		return nil
	}
	if err := lookupOne(c, ops, wants[0]); err != nil {
		return err
	}
	rest := wants[1:]
	if runtime.GOMAXPROCS(0) < 2 || len(rest) < 2 {
		for _, w := range rest {
			if err := lookupOne(c, ops, w); err != nil {
				return err
			}
		}
		return nil
	}
	var failed atomic.Bool
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, w := range rest {
		g.Go(func() error {
			if !failed.Load() && lookupOne(c, ops, w) != nil {
				failed.Store(true)
			}
			return nil
		})
	}
	g.Wait()
	if !failed.Load() {
		return nil
	}
	ops.reset(start)
	c = sumdb.NewClient(ops)
	for _, w := range wants {
		if err := lookupOne(c, ops, w); err != nil {
			return err
		}
	}
	return nil
}

// lookupOne looks w up with c and checks the lines it returns against the
// hashes carried.
func lookupOne(c *sumdb.Client, ops *fileOps, w ModuleHashes) error {
	type q struct {
		vers, hash string
	}
	var qs []q
	if w.ZipHash != "" || w.ModHash == "" {
		qs = append(qs, q{w.Version.Version, w.ZipHash})
	}
	if w.ModHash != "" {
		qs = append(qs, q{w.Version.Version + "/go.mod", w.ModHash})
	}
	for _, q := range qs {
		lines, err := c.Lookup(w.Path, q.vers)
		if err != nil {
			return ops.classify(w.Version, err)
		}
		if q.hash == "" {
			continue
		}
		want := w.Path + " " + q.vers + " " + q.hash
		if !slices.Equal(lines, []string{want}) {
			got := ""
			if len(lines) > 0 {
				got = strings.Join(lines, "; ")
			}
			return &MismatchError{Module: w.Version, GoMod: strings.HasSuffix(q.vers, "/go.mod"), Want: q.hash, Got: got}
		}
	}
	return nil
}

// eachInOrder runs check(i) for i in [0, n) on every core and returns the
// error of the smallest i that fails, as a loop stopping at the first
// failure would. Once one fails, checks not yet started are skipped, and
// those before the failure are then run to find the first.
func eachInOrder(n int, check func(i int) error) error {
	if runtime.GOMAXPROCS(0) < 2 || n < 2 {
		for i := range n {
			if err := check(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	ran := make([]bool, n)
	var failed atomic.Bool
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range n {
		g.Go(func() error {
			if failed.Load() {
				return nil
			}
			ran[i] = true
			if errs[i] = check(i); errs[i] != nil {
				failed.Store(true)
			}
			return nil
		})
	}
	g.Wait()
	for i := range n {
		if !ran[i] {
			errs[i] = check(i)
		}
		if errs[i] != nil {
			return errs[i]
		}
	}
	return nil
}

// fileOps is a sumdb.ClientOps whose remote is a source and whose
// configuration and cache live in memory, starting empty.
type fileOps struct {
	key, name string
	src       source

	mu       sync.Mutex
	latest   []byte
	missing  map[string]bool
	used     map[string]bool
	security []string
}

func (o *fileOps) ReadRemote(path string) ([]byte, error) {
	p := strings.TrimPrefix(path, "/")
	data, err := o.src(p)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.missing[p] = true
		return nil, err
	}
	o.used[p] = true
	return data, nil
}

// reset forgets what a run recorded, and starts the client's latest
// configuration again at start.
func (o *fileOps) reset(start []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latest = start
	o.missing = make(map[string]bool)
	o.used = make(map[string]bool)
	o.security = nil
}

func (o *fileOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	if file == o.name+"/latest" {
		o.mu.Lock()
		defer o.mu.Unlock()
		return bytes.Clone(o.latest), nil
	}
	return nil, fmt.Errorf("unknown config %s", file)
}

func (o *fileOps) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if file != o.name+"/latest" {
		return fmt.Errorf("unknown config %s", file)
	}
	if !bytes.Equal(old, o.latest) {
		return sumdb.ErrWriteConflict
	}
	o.latest = bytes.Clone(new)
	return nil
}

func (o *fileOps) ReadCache(file string) ([]byte, error) { return nil, fs.ErrNotExist }
func (o *fileOps) WriteCache(file string, data []byte)   {}
func (o *fileOps) Log(msg string)                        {}

func (o *fileOps) SecurityError(msg string) {
	o.mu.Lock()
	o.security = append(o.security, msg)
	o.mu.Unlock()
}

// classify turns a client's error into one of this package's errors.
func (o *fileOps) classify(m module.Version, err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.security) > 0 {
		return fmt.Errorf("%w: %s", ErrSecurity, strings.Join(o.security, "\n"))
	}
	if len(o.missing) > 0 {
		return &IncompleteError{Missing: sortedKeys(o.missing), Err: err}
	}
	return &InclusionError{Module: m, Err: err}
}

func sortedKeys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
