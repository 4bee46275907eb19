package checksumdb

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
)

// A Prefetcher fetches a database's files for a later Capture while the
// caller is still finding out which modules it will prove: the signed
// head (latest) once, the lookup of each module version named to Add,
// then the full tiles of levels 0 and 1 above its record (those the go
// command reads to authenticate it). Its
// Fetch, given to Capture as CaptureOptions.Fetch, hands out what was
// fetched (waiting for a fetch under way) and fetches anything else. It
// checks nothing: Capture checks each file it gets as it checks whatever
// it fetches, so a prefetched lookup is a lookup fetched a little earlier,
// its signed head included in Capture's consistency checks.
type Prefetcher struct {
	ctx    context.Context
	cancel context.CancelFunc
	fetch  func(context.Context, string) ([]byte, error)
	cache  Cache // may be nil: what it holds is not prefetched
	sem    chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	files map[string]*prefetched
}

// errHandedOut marks a prefetched file given out already.
var errHandedOut = errors.New("prefetched file handed out")

type prefetched struct {
	done     chan struct{} // closed by finish
	started  bool          // a fetch of it is under way or over (guarded by mu)
	finished bool          // guarded by mu
	data     []byte
	err      error
}

// finish records the outcome of f's fetch, once.
func (p *Prefetcher) finish(f *prefetched, data []byte, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.finished {
		return
	}
	f.data, f.err, f.finished = data, err, true
	close(f.done)
}

// result waits for f's fetch to finish and returns its outcome.
func (p *Prefetcher) result(ctx context.Context, f *prefetched) ([]byte, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return f.data, f.err
}

// NewPrefetcher returns a Prefetcher that fetches through fetch, at most
// concurrency (0: 16) files at a time, and skips what cache (may be nil)
// holds. Close stops it.
func NewPrefetcher(ctx context.Context, fetch func(context.Context, string) ([]byte, error), cache Cache, concurrency int) *Prefetcher {
	if concurrency <= 0 {
		concurrency = 16
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Prefetcher{ctx: ctx, cancel: cancel, fetch: fetch, cache: cache,
		sem: make(chan struct{}, concurrency), files: make(map[string]*prefetched)}
}

// Add starts fetching the lookup of v and then its tiles (and, the first
// time, the head). It does not block, not even on the cache. Adding a
// version twice fetches it once.
func (p *Prefetcher) Add(v module.Version) {
	path, err := modfiles.LookupPath(v)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.start("latest", nil)
		p.start(path, p.tilesOf)
	}()
}

// start fetches path in the background unless it is cached, fetched or
// under way; then calls then (may be nil) with what it got.
func (p *Prefetcher) start(path string, then func([]byte)) {
	if p.cache != nil {
		if _, ok := p.cache.Get(path); ok {
			return
		}
	}
	p.mu.Lock()
	if _, ok := p.files[path]; ok || p.ctx.Err() != nil {
		p.mu.Unlock()
		return
	}
	f := &prefetched{done: make(chan struct{})}
	p.files[path] = f
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		slot := false
		select {
		case p.sem <- struct{}{}:
			slot = true
		case <-p.ctx.Done():
		}
		p.mu.Lock()
		mine := !f.started // else Share took it over while it waited
		f.started = true
		p.mu.Unlock()
		var (
			data []byte
			err  error
		)
		switch {
		case mine && slot:
			data, err = p.fetch(p.ctx, path)
			<-p.sem
			p.finish(f, data, err)
		case mine:
			p.finish(f, nil, p.ctx.Err())
		default:
			if slot {
				<-p.sem
			}
			data, err = p.result(p.ctx, f)
		}
		if err == nil && then != nil {
			then(data)
		}
	}()
}

// Share returns the file at path, fetched once for both the caller and
// the prefetch: it waits for the prefetch's fetch of it if one is under
// way, and otherwise fetches it with fetch (the caller's own way, outside
// the prefetch's limit), taking over a prefetch of it that is still
// waiting for its turn. What it gets is kept for Fetch, like a prefetched
// file. If the prefetch's fetch failed, Share fetches with fetch.
//
// An export's go commands ask the database for the lookups and tiles of
// the modules they verify while the prefetch fetches the same files for
// the capture: without Share each was fetched twice (an export of
// golangci-lint repeated 1,857 of its 3,725 lookup and tile requests;
// COUNT=1 bench/exportnet.sh).
func (p *Prefetcher) Share(path string, fetch func() ([]byte, error)) ([]byte, error) {
	p.mu.Lock()
	f := p.files[path]
	if f != nil && f.started {
		p.mu.Unlock()
		if data, err := p.result(p.ctx, f); err == nil {
			return data, nil
		}
		return fetch()
	}
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		return fetch()
	}
	if f == nil {
		f = &prefetched{done: make(chan struct{})}
		p.files[path] = f
	}
	f.started = true
	p.mu.Unlock()
	data, err := fetch()
	p.finish(f, data, err)
	return data, err
}

// tilesOf starts fetching the full tiles of levels 0 and 1 that hold the
// hashes above the record of a lookup, in the tree of the lookup's head.
func (p *Prefetcher) tilesOf(lookup []byte) {
	id, _, head, err := tlog.ParseRecord(lookup)
	if err != nil {
		return
	}
	n, ok := treeSize(head)
	if !ok || id < 0 || id >= n {
		return
	}
	const h = 8
	for level := range 2 {
		span := int64(1) << (h * (level + 1)) // records under one tile of this level
		index := id / span
		if (index+1)*span > n {
			return // partial in this tree: Capture asks for the newest head's
		}
		p.start(tlog.Tile{H: h, L: level, N: index, W: 1 << h}.Path(), nil)
	}
}

// treeSize reads the tree size from a signed head without verifying it
// (the second line of the note's text: "go.sum database tree\nN\nhash\n").
func treeSize(head []byte) (int64, bool) {
	lines := strings.SplitN(string(head), "\n", 3)
	if len(lines) < 3 {
		return 0, false
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	return n, err == nil && n > 0
}

// Fetch returns the file at path: prefetched (waiting for its fetch if it
// is under way), else fetched now. A prefetched file is handed out once.
func (p *Prefetcher) Fetch(ctx context.Context, path string) ([]byte, error) {
	p.mu.Lock()
	f := p.files[path]
	p.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		p.mu.Lock()
		data, err := f.data, f.err
		f.data, f.err = nil, errHandedOut
		p.mu.Unlock()
		if err == nil {
			return data, nil
		}
	}
	return p.fetch(ctx, path)
}

// Close stops the fetches under way and waits for them.
func (p *Prefetcher) Close() {
	p.mu.Lock() // no start between the cancel and the wait
	p.cancel()
	p.mu.Unlock()
	p.wg.Wait()
}
