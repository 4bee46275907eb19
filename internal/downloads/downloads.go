// Package downloads records when each module version was last downloaded
// from a server, for `modferry prune --unused-since`.
//
// # What the server does per request
//
// [Recorder.Record] notes the request path of a .info, .mod or .zip the
// server answered (200, 206 or 304) with the request's time, in a map
// keyed by that path: no parsing, and no allocation when the path is
// there already. The map holds at most MaxPending paths; when it is full
// it is handed to the flusher and a fresh one started, and while the
// flusher still holds a full one, new paths are dropped (counted in
// [Recorder.Dropped]) rather than grow memory. Nothing is written per
// request.
//
// # What is stored
//
// [Recorder.Run] flushes every Interval (and when a map is full, and when
// it stops): it parses the paths into module versions (an .info, .mod and
// .zip of one version are one entry, at the latest time) and writes one
// small object "downloads/<time>-<random>.json", created once and never
// rewritten:
//
//	{"formatVersion": 1, "lastDownload": {"example.com/m@v1.2.0": 1764547200, ...}}
//
// (Unix seconds). Several servers on one store each write their own
// objects. When more than MaxObjects objects exist, the flusher merges
// them into one (the latest time of each version) and then deletes the
// objects it merged; a crash between the two leaves duplicates that the
// next merge absorbs, and a reader takes the latest time whatever the
// objects. [Read] merges every object into one map.
package downloads

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// Dir is the store directory holding the download records.
const Dir = "downloads"

// FormatVersion is the format of the objects this package writes.
const FormatVersion = 1

// Defaults of Options.
const (
	DefaultInterval   = time.Minute
	DefaultMaxPending = 10000
	DefaultMaxObjects = 64
)

// Options configure a Recorder. The zero value is usable.
type Options struct {
	// Interval is how often recorded downloads are written; 0 means
	// DefaultInterval.
	Interval time.Duration
	// MaxPending bounds the paths held in memory between writes; 0
	// means DefaultMaxPending. At most twice as many are held while a
	// write is under way.
	MaxPending int
	// MaxObjects is how many objects may accumulate in Dir before a
	// flush merges them; 0 means DefaultMaxObjects.
	MaxObjects int
}

// Recorder collects downloads in memory and writes them in batches.
// Its methods may be called concurrently.
type Recorder struct {
	st   store.Store
	opts Options

	mu      sync.Mutex
	pending map[string]int64 // request path -> Unix seconds
	full    map[string]int64 // handed to the flusher, not yet written
	kick    chan struct{}
	dropped atomic.Int64
	flushMu sync.Mutex // one flush at a time
}

// New returns a Recorder writing to st.
func New(st store.Store, opts Options) *Recorder {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxObjects <= 0 {
		opts.MaxObjects = DefaultMaxObjects
	}
	return &Recorder{st: st, opts: opts, pending: make(map[string]int64), kick: make(chan struct{}, 1)}
}

// Record notes that the module file at request path p (such as
// "/example.com/m/@v/v1.2.0.zip") was downloaded at t. A nil Recorder
// records nothing.
func (r *Recorder) Record(p string, t time.Time) {
	if r == nil {
		return
	}
	sec := t.Unix()
	r.mu.Lock()
	if old, ok := r.pending[p]; ok {
		if sec > old {
			r.pending[p] = sec
		}
		r.mu.Unlock()
		return
	}
	if len(r.pending) >= r.opts.MaxPending {
		if old, ok := r.full[p]; ok {
			if sec > old {
				r.full[p] = sec
			}
			r.mu.Unlock()
			return
		}
		if r.full != nil {
			r.mu.Unlock()
			r.dropped.Add(1)
			return
		}
		r.full, r.pending = r.pending, make(map[string]int64, len(r.pending))
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	r.pending[p] = sec
	r.mu.Unlock()
}

// Dropped returns how many downloads were not recorded because the
// flusher fell behind.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Run flushes every Interval, and when the pending map fills, until ctx
// is done; then it flushes once more (with a fresh context of a few
// seconds) and returns. Errors go to onError, if set.
func (r *Recorder) Run(ctx context.Context, onError func(error)) {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	report := func(err error) {
		if err != nil && onError != nil {
			onError(err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			report(r.Flush(fctx))
			cancel()
			return
		case <-t.C:
		case <-r.kick:
		}
		report(r.Flush(ctx))
	}
}

// Flush writes what was recorded since the last flush, and merges the
// stored objects if there are more than MaxObjects.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch := r.full
	if batch == nil {
		batch = r.pending
		r.pending = make(map[string]int64)
	}
	r.full = nil
	r.mu.Unlock()
	if len(batch) > 0 {
		last := map[string]int64{}
		for p, sec := range batch {
			req, err := modfiles.ParseRequest(strings.TrimPrefix(p, "/"))
			if err != nil || req.Version.Version == "" {
				continue
			}
			k := req.Version.String()
			last[k] = max(last[k], sec)
		}
		if err := write(ctx, r.st, last); err != nil {
			return fmt.Errorf("recording downloads: %w", err)
		}
	}
	return compact(ctx, r.st, r.opts.MaxObjects)
}

// object is the content of one stored object.
type object struct {
	FormatVersion int              `json:"formatVersion"`
	LastDownload  map[string]int64 `json:"lastDownload"`
}

func write(ctx context.Context, st store.Store, last map[string]int64) error {
	if len(last) == 0 {
		return nil
	}
	b, err := json.Marshal(object{FormatVersion: FormatVersion, LastDownload: last})
	if err != nil {
		return err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := Dir + "/" + time.Now().UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(rnd[:]) + ".json"
	return st.Create(ctx, name, bytes.NewReader(append(b, '\n')))
}

// objects lists the stored objects' names.
func objects(ctx context.Context, st store.Store) ([]string, error) {
	names, err := st.List(ctx, Dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ".json") {
			out = append(out, Dir+"/"+n)
		}
	}
	return out, nil
}

// readObjects merges the named objects into last; objects deleted
// meanwhile (merged by another flusher) are skipped.
func readObjects(ctx context.Context, st store.Store, names []string, last map[string]int64) error {
	for _, n := range names {
		b, err := store.ReadAll(ctx, st, n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		var o object
		if err := json.Unmarshal(b, &o); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if o.FormatVersion != FormatVersion {
			return fmt.Errorf("%s: format version %d, this modferry reads %d", n, o.FormatVersion, FormatVersion)
		}
		for k, sec := range o.LastDownload {
			last[k] = max(last[k], sec)
		}
	}
	return nil
}

// compact merges the stored objects into one when there are more than
// max: it writes the merged object first, then deletes the ones merged.
func compact(ctx context.Context, st store.Store, maxObjects int) error {
	names, err := objects(ctx, st)
	if err != nil || len(names) <= maxObjects {
		return err
	}
	last := map[string]int64{}
	if err := readObjects(ctx, st, names, last); err != nil {
		return err
	}
	if err := write(ctx, st, last); err != nil {
		return err
	}
	for _, n := range names {
		if err := st.Delete(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// Read returns the last recorded download of every module version the
// store's records name.
func Read(ctx context.Context, st store.Store) (map[module.Version]time.Time, error) {
	names, err := objects(ctx, st)
	if err != nil {
		return nil, err
	}
	last := map[string]int64{}
	if err := readObjects(ctx, st, names, last); err != nil {
		return nil, err
	}
	out := make(map[module.Version]time.Time, len(last))
	for k, sec := range last {
		p, v, ok := strings.Cut(k, "@")
		if !ok {
			continue
		}
		out[module.Version{Path: p, Version: v}] = time.Unix(sec, 0).UTC()
	}
	return out, nil
}
