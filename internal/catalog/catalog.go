package catalog

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"

	"github.com/modferry/modferry/internal/store"
)

// Catalog indexes a store. Its methods are safe for concurrent use.
type Catalog struct {
	// ReadOnly keeps the catalog from writing to the store: the licences
	// it detects in zips are then kept in memory only (see LicenseDir).
	// Set it before the first call.
	ReadOnly bool

	st store.Store

	// refreshing serializes whole-store passes (Refresh).
	refreshing sync.Mutex
	// readingBundles and readingAudit serialize the reading of new import
	// records and of the audit log's new lines, which Refresh,
	// RefreshModules, Module and Bundles may ask for at once: two readers
	// of the same record would count it twice, and two of the same log
	// lines could move the read offset back.
	// Callers that arrive during a read share the next (see shared).
	readingBundles, readingAudit shared
	// stripes serialize the check-read-replace of one module, so that two
	// refreshes of the same module never replace a newer reading with an
	// older one.
	stripes [64]sync.Mutex
	seed    maphash.Seed

	ready     atomic.Bool
	readyCh   chan struct{}
	readyOnce sync.Once

	mu      sync.RWMutex
	mods    map[string]*modEntry
	deps    map[handle]*depList // required module path -> who requires it
	origins map[versionKey]int32
	bundles []bundleInfo
	known   map[string]bool // bundle record names read
	// published are the publishes the audit log records, read up to
	// where audit is.
	published map[versionKey]publishRecord
	// signers are the signers of imported bundles the audit log
	// records, by digest, read up to where audit is.
	signers map[string][]string
	// history caches the summaries of import records (immutable), by
	// record name.
	history map[string]*api.Bundle
	// audit reads the audit log's new entries (under readingAudit),
	// from a checkpoint in the store on a journal.
	audit   *audit.IndexReader
	totals  totals
	lastRun time.Time
	// walked are the change stamps read before the last complete walk
	// (see stamps), and skipped how many refreshes skipped the walk
	// since; both kept under refreshing.
	walked  string
	skipped int
	// originsAt is the addition stamp read before Module last read the
	// import records and the audit log (see originStamp), under mu.
	originsAt string
	// lic are the licences of the versions module pages showed.
	lic licenses

	// search order, rebuilt lazily after modules come or go
	orderDirty bool
	order      []string // module paths, sorted by (lower-cased path, path)
	text       string   // lower-cased paths in order, each followed by '\n'
	starts     []int32  // start of each path in text
	// grams maps each trigram (three bytes) of the lower-cased paths to
	// the positions in order of the paths holding it, ascending: a
	// substring search of three bytes or more reads only the candidates
	// of its rarest trigram, not the whole text.
	grams map[uint32][]int32
}

// versionKey names a module version with interned strings.
type versionKey struct{ path, version handle }

// totals are the counts and bytes Stats reports, kept up to date as
// modules are replaced.
type totals struct {
	modules   int
	versions  int // complete versions
	goModOnly int
	zipBytes  int64
	modBytes  int64
}

func (t *totals) add(m *modEntry, sign int) {
	if m == nil {
		return
	}
	t.modules += sign
	for i := range m.vers {
		v := &m.vers[i]
		if v.goModOnly() {
			t.goModOnly += sign
		} else {
			t.versions += sign
			t.zipBytes += int64(sign) * v.zipSize
		}
		t.modBytes += int64(sign) * int64(v.modSize)
	}
}

// New returns an empty catalog of st. Call Run (or Refresh) to fill it.
func New(st store.Store) *Catalog {
	return &Catalog{
		st:      st,
		seed:    maphash.MakeSeed(),
		readyCh: make(chan struct{}),
		mods:    map[string]*modEntry{},
		deps:    map[handle]*depList{},
		origins: map[versionKey]int32{},
		known:   map[string]bool{},

		published: map[versionKey]publishRecord{},
		signers:   map[string][]string{},
		audit:     newAuditReader(st),
		history:   map[string]*api.Bundle{},

		lic: licenses{byVersion: map[versionKey]licenseVal{}, loaded: map[handle]bool{},
			sbom: map[string]map[versionKey]handle{}, seed: maphash.MakeSeed()},
	}
}

// Ready reports whether the first full pass over the store is done.
func (c *Catalog) Ready() bool { return c.ready.Load() }

// WaitReady waits until the first full pass is done or ctx ends.
func (c *Catalog) WaitReady(ctx context.Context) error {
	select {
	case <-c.readyCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Catalog) markReady() {
	c.readyOnce.Do(func() {
		c.ready.Store(true)
		close(c.readyCh)
	})
}

// Run builds the index, then refreshes it every interval until ctx ends,
// when it returns ctx's error. After each pass it finds the licences of
// the versions that have none yet (see LicenseDir), and while it runs,
// module pages write the licence caches in the background; it waits for
// those writes before it returns. A failed pass is reported to onError (if
// not nil) and tried again at the next tick; the first pass is retried
// after a second at most.
func (c *Catalog) Run(ctx context.Context, every time.Duration, onError func(error)) error {
	retry := min(every, time.Second)
	defer c.writeInBackground()()
	// The licence detector (1-2 s of CPU to build) is built by the first
	// scan of a zip that holds a licence file, not here: a store whose
	// versions came in bundles reads their licences from the bundles'
	// SBOMs, and a store whose licence caches were written reads those.
	for {
		err := c.Refresh(ctx)
		// Publishes and import signers, for module pages and the
		// import history, which would read them on demand: read here,
		// in the background, and not by Refresh, so that a command
		// that only lists (ls, search) does not read the audit log;
		// also after a refresh that could not read some module.
		if ctx.Err() == nil {
			err = errors.Join(err, c.refreshPublished(ctx))
		}
		if c.Ready() {
			c.fillAllLicenses(ctx)
		}
		if err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		wait := every
		if !c.Ready() {
			wait = retry
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (c *Catalog) stripe(path string) *sync.Mutex {
	return &c.stripes[maphash.String(c.seed, path)%uint64(len(c.stripes))]
}
