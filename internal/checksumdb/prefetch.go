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
	done chan struct{}
	data []byte
	err  error
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
		var (
			data []byte
			err  error
		)
		select {
		case p.sem <- struct{}{}:
			data, err = p.fetch(p.ctx, path)
			<-p.sem
		case <-p.ctx.Done():
			err = p.ctx.Err()
		}
		f.data, f.err = data, err
		close(f.done)
		if err == nil && then != nil {
			then(data)
		}
	}()
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
