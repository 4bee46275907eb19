package catalog

import (
	"archive/zip"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/sbom"
	"github.com/modferry/modferry/internal/store"
)

// LicenseDir is the store directory where the catalog keeps the licences
// it detected in module zips: LicenseDir/<escaped module path>/@licenses.json
// ("@" is in no module path element, so the name never meets a module's
// directory). The files are a cache derived from the zips, keyed by each
// zip's h1: hash and size; deleting them only costs a new detection.
const LicenseDir = "catalog/licenses"

// licenseCacheName returns the name of a module's licence cache.
func licenseCacheName(path string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	return LicenseDir + "/" + esc + "/@licenses.json", nil
}

// licenseCache is the content of a module's licence cache: by version,
// what the zip's licence files hold.
type licenseCache struct {
	Versions map[string]licenseEntry `json:"versions"`
}

type licenseEntry struct {
	ZipHash  string   `json:"h1,omitempty"`
	Size     int64    `json:"size"`
	Licenses []string `json:"licenses"`
}

// licenses holds the licences known in memory.
type licenses struct {
	mu sync.Mutex
	// byVersion are the licences of versions, with the zip they were
	// found in.
	byVersion map[versionKey]licenseVal
	// loaded are the modules whose cache file was read.
	loaded map[handle]bool
	// sbom are, by bundle digest, the licences its kept CycloneDX SBOM
	// lists (nil: the bundle kept none).
	sbom map[string]map[versionKey]handle
	// writing serializes the read-merge-write of one module's cache.
	writing [16]sync.Mutex
	// detecting serializes the zip scans of one module, so that pages
	// viewed at once share one detection instead of each reading every
	// zip.
	detecting [16]sync.Mutex
	// writeSlots bounds the cache writes under way in the background; a
	// write that finds none free is skipped (it only costs a detection
	// after a restart).
	writeSlots chan struct{}
	// async says Run runs: caches are written in the background, counted
	// by pending, which Run waits for before it returns. (Under mu.)
	async   bool
	pending sync.WaitGroup
	seed    maphash.Seed
}

// licenseVal is what is known of a version's licences: the SPDX
// identifiers joined by "\n" ("" for none), and the zip's hash and size
// they were read from ("" and -1 when they come from a bundle's SBOM).
type licenseVal struct {
	ids     handle
	zipHash string
	size    int64
}

func (v licenseVal) list() []string {
	if s := str(v.ids); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// nonNil returns ids, or an empty list for nil: known to have none.
func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func joinIDs(ids []string) handle { return intern(strings.Join(ids, "\n")) }

// fillLicenses sets the Licenses of the versions of path that have a zip.
// Where they come from, first found:
//
//   - memory, for versions seen before;
//   - the CycloneDX SBOM the store kept for the bundle a version came
//     from, which export filled with the same detection (read once per
//     bundle);
//   - the module's licence cache in the store (LicenseDir), read once per
//     module;
//   - the zip itself (package sbom's detection: the licence files at the
//     zip's root, through github.com/google/licensecheck), after which
//     the cache is written.
//
// Detection is best effort: a version whose zip cannot be read now is
// left without licences and tried again on the next call.
//
// syncWrite writes the cache before returning (the background pass);
// otherwise, while Run runs, the write is left to a goroutine, off the
// request path.
func (c *Catalog) fillLicenses(ctx context.Context, path string, vers []Version, syncWrite bool) {
	l := &c.lic
	p := intern(path)
	var missing []int
	resolve := func() {
		missing = missing[:0]
		c.indexLicenses(path, vers)
		l.mu.Lock()
		for i := range vers {
			v := &vers[i]
			if v.GoModOnly || v.Licenses != nil {
				continue
			}
			k := versionKey{p, intern(v.Version)}
			if lv, ok := l.byVersion[k]; ok && (lv.size < 0 || lv.zipHash == v.ZipHash && lv.size == v.ZipSize) {
				v.Licenses = nonNil(lv.list())
				continue
			}
			missing = append(missing, i)
		}
		l.mu.Unlock()
	}
	resolve()
	if len(missing) == 0 {
		return
	}
	// The SBOM of the bundle each version came from.
	for _, i := range missing {
		if o := vers[i].Origin; o != nil && o.Kind == OriginBundle {
			c.bundleLicenses(ctx, o.Bundle)
			k := versionKey{p, intern(vers[i].Version)}
			l.mu.Lock()
			if ids, ok := l.sbom[o.Bundle][k]; ok {
				l.byVersion[k] = licenseVal{ids: ids, size: -1}
			}
			l.mu.Unlock()
		}
	}
	resolve()
	if len(missing) == 0 {
		return
	}
	// The module's cache file, once.
	l.mu.Lock()
	loaded := l.loaded[p]
	l.mu.Unlock()
	if !loaded {
		lc, err := c.readLicenseCache(ctx, path)
		if err != nil {
			return
		}
		l.mu.Lock()
		for v, e := range lc.Versions {
			k := versionKey{p, intern(v)}
			if _, ok := l.byVersion[k]; !ok {
				l.byVersion[k] = licenseVal{ids: joinIDs(e.Licenses), zipHash: e.ZipHash, size: e.Size}
			}
		}
		l.loaded[p] = true
		l.mu.Unlock()
		resolve()
		if len(missing) == 0 {
			return
		}
	}
	// The zips, one page's detection per module at a time: a page that
	// waited finds what the one before it found.
	dmu := &l.detecting[maphash.String(l.seed, path)%uint64(len(l.detecting))]
	dmu.Lock()
	defer dmu.Unlock()
	resolve()
	if len(missing) == 0 {
		return
	}
	found := make([]*licenseEntry, len(missing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, runtime.GOMAXPROCS(0)))
	for j, i := range missing {
		v := &vers[i]
		g.Go(func() error {
			ids, err := c.zipLicenses(gctx, module.Version{Path: path, Version: v.Version})
			if err == nil {
				found[j] = &licenseEntry{ZipHash: v.ZipHash, Size: v.ZipSize, Licenses: nonNil(ids)}
			}
			return nil
		})
	}
	g.Wait()
	add := map[string]licenseEntry{}
	l.mu.Lock()
	for j, i := range missing {
		if e := found[j]; e != nil {
			vers[i].Licenses = e.Licenses
			l.byVersion[versionKey{p, intern(vers[i].Version)}] = licenseVal{ids: joinIDs(e.Licenses), zipHash: e.ZipHash, size: e.Size}
			add[vers[i].Version] = *e
		}
	}
	l.mu.Unlock()
	if len(add) > 0 && !c.ReadOnly {
		if syncWrite {
			// What was detected is kept even when ctx ends now (Run
			// stopping): the write is short, and Run waits for it.
			c.writeLicenseCache(context.WithoutCancel(ctx), path, add)
			return
		}
		// While Run runs, off the request path: the page has what it
		// needs, and a lost write only costs a new detection.
		l.mu.Lock()
		async, slot := l.async, false
		if async {
			if l.writeSlots == nil {
				l.writeSlots = make(chan struct{}, maxBackgroundWrites)
			}
			select {
			case l.writeSlots <- struct{}{}:
				slot = true
				l.pending.Add(1)
			default: // enough writes under way
			}
		}
		l.mu.Unlock()
		if !async {
			c.writeLicenseCache(ctx, path, add)
			return
		}
		if !slot {
			return
		}
		go func() {
			defer func() { <-l.writeSlots; l.pending.Done() }()
			c.writeLicenseCache(context.WithoutCancel(ctx), path, add)
		}()
	}
}

// keepLicenses keeps the licences vers holds (the versions of m, newest
// first, as Module and fillAllLicenses list them) in m's entries, where
// later views find them without a lookup, and marks m licensed when every
// version with a zip has them. An m the index no longer holds is left
// alone: its successor is filled by the next view or pass.
func (c *Catalog) keepLicenses(m *modEntry, vers []Version) {
	if len(vers) != len(m.vers) {
		return
	}
	mu := c.stripe(m.path)
	mu.Lock()
	defer mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mods[m.path] != m {
		return
	}
	p := intern(m.path)
	all := true
	var kept []versionKey
	for i := range m.vers {
		ve := &m.vers[i]
		if ve.goModOnly() || ve.hashes&hasLicenses != 0 {
			continue
		}
		v := &vers[len(vers)-1-i]
		if v.Version != ve.version.Value() || v.Licenses == nil {
			all = false
			continue
		}
		ve.lic, ve.hashes = joinIDs(v.Licenses), ve.hashes|hasLicenses
		kept = append(kept, versionKey{p, ve.version})
	}
	if all {
		m.licensed.Store(true)
	}
	// The entries hold them now (and the entries that replace m copy
	// them): the lookup table need not.
	c.lic.mu.Lock()
	for _, k := range kept {
		delete(c.lic.byVersion, k)
	}
	c.lic.mu.Unlock()
}

// fillAllLicenses finds the licences of the versions of every module the
// index holds in full (with its zip hashes) and not yet licensed, as a
// module page would (the bundles' SBOMs, the licence caches, else the
// zips, then writing the caches), so that module pages never read a zip:
// on a big store, most page views are a module's first. It also reads
// the requirements a module page shows by default (the latest go.mod's),
// which a first view would read otherwise, and sorts the dependents
// lists (see dependents). Run calls it
// after each Refresh; only modules new or changed since cost more than a
// look at their entry, and a store whose caches are written (by an
// earlier pass) costs one small file read per module after a restart.
func (c *Catalog) fillAllLicenses(ctx context.Context) {
	c.mu.RLock()
	var todo []*modEntry
	for _, m := range c.mods {
		if m.full && !m.licensed.Load() {
			todo = append(todo, m)
		}
	}
	c.mu.RUnlock()
	jobs := make(chan *modEntry)
	var wg sync.WaitGroup
	for range store.Concurrency(c.st) {
		wg.Go(func() {
			for m := range jobs {
				vers := c.versions(m)
				c.fillLicenses(ctx, m.path, vers, true)
				c.keepLicenses(m, vers)
				c.keepRequires(ctx, m)
			}
		})
	}
	for _, m := range todo {
		if ctx.Err() != nil {
			break
		}
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	c.sortDependents(ctx)
}

// sortDependents sorts the dependents lists that are not sorted yet,
// which the first view of each module page would sort: one list at a
// time, so that queries wait for one sort at most.
func (c *Catalog) sortDependents(ctx context.Context) {
	c.mu.RLock()
	var todo []handle
	for p, dl := range c.deps {
		if !dl.sorted {
			todo = append(todo, p)
		}
	}
	c.mu.RUnlock()
	for _, p := range todo {
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if dl := c.deps[p]; dl != nil && !dl.sorted {
			dl.sort()
		}
		c.mu.Unlock()
	}
}

// indexLicenses sets the Licenses of vers (newest first) that the
// index's current entry of path holds for the same zips: those another
// view or the background pass kept there (keepLicenses) since vers were
// listed.
func (c *Catalog) indexLicenses(path string, vers []Version) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := c.mods[path]
	if m == nil {
		return
	}
	for i := range vers {
		v := &vers[i]
		if v.GoModOnly || v.Licenses != nil {
			continue
		}
		j, ok := slices.BinarySearchFunc(m.vers, v.Version, func(ve verEntry, v string) int { return semver.Compare(ve.version.Value(), v) })
		if !ok {
			continue
		}
		ve := &m.vers[j]
		if ve.hashes&hasLicenses == 0 || ve.zipSize != v.ZipSize || ve.version.Value() != v.Version {
			continue
		}
		if ve.hashes&hasZipHash != 0 && encodeH1(ve.zipHash) != v.ZipHash || ve.hashes&hasZipHash == 0 && v.ZipHash != "" {
			continue
		}
		v.Licenses = nonNil(licenseVal{ids: ve.lic}.list())
	}
}

// maxBackgroundWrites bounds the licence-cache writes under way at once.
const maxBackgroundWrites = 4

// writeInBackground makes fillLicenses write caches in the background
// until the function it returns is called, which waits for the writes
// under way.
func (c *Catalog) writeInBackground() (stop func()) {
	l := &c.lic
	l.mu.Lock()
	l.async = true
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.async = false
		l.mu.Unlock()
		l.pending.Wait()
	}
}

// zipLicenses detects the licences in a stored zip. An error says the
// zip could not be read now; a zip that is not a zip has no licences.
func (c *Catalog) zipLicenses(ctx context.Context, v module.Version) ([]string, error) {
	name, err := modfiles.Name(v, modfiles.Zip)
	if err != nil {
		return nil, err
	}
	f, err := c.st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		ra = &seekReaderAt{r: f}
	}
	ids, err := sbom.ReaderLicenses(ra, fi.Size(), v)
	if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) || errors.Is(err, zip.ErrChecksum) {
		return nil, nil
	}
	return ids, err
}

// seekReaderAt reads at offsets through Seek and Read.
type seekReaderAt struct {
	mu sync.Mutex
	r  io.ReadSeeker
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(s.r, p)
}

// readLicenseCache reads a module's licence cache; a missing or unreadable
// one is empty.
func (c *Catalog) readLicenseCache(ctx context.Context, path string) (*licenseCache, error) {
	lc := &licenseCache{}
	name, err := licenseCacheName(path)
	if err != nil {
		return lc, nil
	}
	data, err := store.ReadAll(ctx, c.st, name)
	if errors.Is(err, fs.ErrNotExist) {
		return lc, nil
	}
	if err != nil {
		return nil, err
	}
	if json.Unmarshal(data, lc) != nil {
		return &licenseCache{}, nil // written by no modferry; replaced on the next write
	}
	return lc, nil
}

// writeLicenseCache adds entries to a module's licence cache. Another
// process writing the same cache at the same moment may drop some of
// them; they are then detected again.
func (c *Catalog) writeLicenseCache(ctx context.Context, path string, add map[string]licenseEntry) {
	name, err := licenseCacheName(path)
	if err != nil {
		return
	}
	mu := &c.lic.writing[maphash.String(c.lic.seed, path)%uint64(len(c.lic.writing))]
	mu.Lock()
	defer mu.Unlock()
	lc, err := c.readLicenseCache(ctx, path)
	if err != nil {
		return
	}
	if lc.Versions == nil {
		lc.Versions = map[string]licenseEntry{}
	}
	for v, e := range add {
		lc.Versions[v] = e
	}
	data, err := json.Marshal(lc)
	if err != nil {
		return
	}
	// Best effort: a read-only store still shows the licences.
	_ = c.st.Put(ctx, name, strings.NewReader(string(data)))
}

// cdxLicenses is the part of a CycloneDX SBOM the licences come from.
type cdxLicenses struct {
	Components []struct {
		Name     string `json:"name"`
		Version  string `json:"version"`
		Scope    string `json:"scope"`
		Licenses []struct {
			License *struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"license"`
			Expression string `json:"expression"`
		} `json:"licenses"`
	} `json:"components"`
}

// bundleLicenses makes sure the licences of the SBOM kept for bundle
// digest are known, reading it once.
func (c *Catalog) bundleLicenses(ctx context.Context, digest string) {
	l := &c.lic
	l.mu.Lock()
	_, done := l.sbom[digest]
	l.mu.Unlock()
	if done {
		return
	}
	data, err := c.BundleFile(ctx, digest, api.DownloadCycloneDX)
	var doc cdxLicenses
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return // try again next time
	}
	var m map[versionKey]handle
	if err == nil && json.Unmarshal(data, &doc) == nil {
		m = make(map[versionKey]handle, len(doc.Components))
		for _, comp := range doc.Components {
			if comp.Scope == "excluded" {
				continue // carried for its go.mod only: no zip, no licences
			}
			var ids []string
			for _, cl := range comp.Licenses {
				switch {
				case cl.Expression != "":
					ids = append(ids, cl.Expression)
				case cl.License != nil:
					ids = append(ids, cmp.Or(cl.License.ID, cl.License.Name))
				}
			}
			m[versionKey{intern(comp.Name), intern(comp.Version)}] = joinIDs(ids)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, done := l.sbom[digest]; done {
		return
	}
	l.sbom[digest] = m
}
