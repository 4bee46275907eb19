package catalog

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// verFiles is one version of a listing and the kinds of file it has.
type verFiles struct {
	version string
	files   files
}

var kindBits = map[string]files{
	string(modfiles.Info):    fInfo,
	string(modfiles.Mod):     fMod,
	string(modfiles.Zip):     fZip,
	string(modfiles.ZipHash): fZipHash,
	string(modfiles.Gone):    fGone,
}

// parseListing reads the names List returned for a module's @v directory:
// the fingerprint of the names that matter and the versions the catalog
// shows (complete or go.mod-only, not deleted), in semver order.
func parseListing(names []string) (uint64, []verFiles) {
	byVersion := map[string]files{}
	for _, n := range names {
		i := strings.LastIndexByte(n, '.')
		if i <= 0 {
			continue // "list", sub-directories
		}
		bit, ok := kindBits[n[i+1:]]
		if !ok {
			continue
		}
		v, err := module.UnescapeVersion(n[:i])
		if err != nil || !semver.IsValid(v) {
			continue
		}
		byVersion[v] |= bit
	}
	out := make([]verFiles, 0, len(byVersion))
	for v, f := range byVersion {
		if shown(f) {
			out = append(out, verFiles{v, f})
		}
	}
	slices.SortFunc(out, func(a, b verFiles) int { return semver.Compare(a.version, b.version) })
	return fingerprint(names), out
}

// fingerprint is the fingerprint of a listing parseListing returns: FNV-1a
// over the names of module files, each followed by a zero byte. A module
// page checks it first, and parses the listing only when it changed.
func fingerprint(names []string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, n := range names {
		i := strings.LastIndexByte(n, '.')
		if i <= 0 {
			continue
		}
		if _, ok := kindBits[n[i+1:]]; !ok {
			continue
		}
		for j := 0; j < len(n); j++ {
			h = (h ^ uint64(n[j])) * prime
		}
		h *= prime // the zero byte
	}
	return h
}

// shown reports whether a version with these files is in the catalog:
// complete, or go.mod-only; not deleted and not half-written.
func shown(f files) bool {
	switch {
	case f&fGone != 0 || f&fMod == 0:
		return false
	case f&fZip == 0:
		return true // go.mod-only
	default:
		return f&fInfo != 0
	}
}

// listModule lists the module's @v directory.
func (c *Catalog) listModule(ctx context.Context, path string) ([]string, error) {
	dir, err := modfiles.VersionDir(path)
	if err != nil {
		return nil, err
	}
	return c.st.List(ctx, dir)
}

// check brings the index's entry for path up to date and returns it (nil
// when the store holds no version of it). names, if not nil, is a listing
// of the module's @v directory made while the index held seen for the
// path; it is used only if the index still holds seen, else the directory
// is listed again. full asks for every version's details too (times and
// zip hashes, which only module pages show).
func (c *Catalog) check(ctx context.Context, path string, names []string, seen *modEntry, full bool) (*modEntry, error) {
	mu := c.stripe(path)
	mu.Lock()
	defer mu.Unlock()
	c.mu.RLock()
	old := c.mods[path]
	c.mu.RUnlock()
	current := old != nil && old.detailed && (old.full || !full)
	var stamp int64
	var start time.Time
	if names == nil || old != seen {
		// On a local store, one stat of the @v directory says whether a
		// listing would differ from the one old was made from: a module
		// page then lists nothing (a listing was a quarter of its CPU).
		dir, err := modfiles.VersionDir(path)
		if err != nil {
			return nil, err
		}
		stamp, _ = store.DirStamp(c.st, dir)
		if current && stamp != 0 && old.dirStamp.Load() == stamp {
			return old, nil
		}
		start = time.Now()
		if names, err = c.st.List(ctx, dir); err != nil {
			return nil, err
		}
	}
	if !store.StableStamp(stamp, start) {
		stamp = 0
	}
	if current && old.fp == fingerprint(names) {
		if stamp != 0 {
			old.dirStamp.Store(stamp)
		}
		return old, nil
	}
	fp, vfs := parseListing(names)
	var n *modEntry
	if len(vfs) > 0 {
		var err error
		if n, err = c.load(ctx, path, fp, vfs, old, full); err != nil {
			return nil, err
		}
	}
	if old == nil && n == nil {
		return nil, nil
	}
	if n != nil && stamp != 0 {
		n.dirStamp.Store(stamp)
	}
	c.mu.Lock()
	// Not old: Refresh may have entered a skeleton meanwhile.
	c.replace(path, c.mods[path], n)
	c.mu.Unlock()
	return n, nil
}

// load reads the versions of a module that old does not hold with the same
// files (with their details if full), and the latest go.mod's retractions
// and deprecation.
func (c *Catalog) load(ctx context.Context, path string, fp uint64, vfs []verFiles, old *modEntry, full bool) (*modEntry, error) {
	m := &modEntry{path: path, lower: strings.ToLower(path), fp: fp, vers: make([]verEntry, 0, len(vfs)), detailed: true, full: true}
	metas := map[string]*modMeta{}
	var prev map[string]*verEntry
	if old != nil && old.detailed {
		prev = make(map[string]*verEntry, len(old.vers))
		for i := range old.vers {
			prev[old.vers[i].version.Value()] = &old.vers[i]
		}
	}
	for _, vf := range vfs {
		v := module.Version{Path: path, Version: vf.version}
		var ve verEntry
		if p := prev[vf.version]; p != nil && p.files == vf.files {
			ve = *p
			ve.reqAt = uint32(len(m.reqs))
			m.reqs = append(m.reqs, old.reqsOf(p)...)
		} else {
			var meta *modMeta
			var ok bool
			var err error
			if ve, meta, ok, err = c.readVersion(ctx, v, vf.files, &m.reqs); err != nil {
				return nil, err
			} else if !ok {
				continue
			}
			metas[vf.version] = meta
		}
		if full && ve.hashes&hasDetails == 0 {
			if ok, err := c.readDetails(ctx, v, &ve); err != nil {
				return nil, err
			} else if !ok {
				continue
			}
		}
		m.full = m.full && ve.hashes&hasDetails != 0
		m.vers = append(m.vers, ve)
	}
	if len(m.reqs) < cap(m.reqs)*3/4 {
		m.reqs = slices.Clip(slices.Clone(m.reqs))
	}
	if err := c.loadLatest(ctx, m, metas, old); err != nil {
		return nil, err
	}
	return m, nil
}

// modMeta is what the catalog needs of the latest go.mod.
type modMeta struct {
	deprecated string
	isDepr     bool
	retract    []retraction
}

func metaOf(mf *modfile.File) *modMeta {
	meta := &modMeta{}
	if mf.Module != nil && mf.Module.Deprecated != "" {
		meta.deprecated, meta.isDepr = mf.Module.Deprecated, true
	}
	for _, r := range mf.Retract {
		meta.retract = append(meta.retract, retraction{low: r.Low, high: r.High, rationale: r.Rationale})
	}
	return meta
}

// readVersion reads one version's files. It reports false when a file
// it needs has gone (a delete under way; the next check sees it).
func (c *Catalog) readVersion(ctx context.Context, v module.Version, f files, reqs *[]versionKey) (ve verEntry, meta *modMeta, ok bool, err error) {
	ve, meta, ok, err = c.readVersionFiles(ctx, v, f, reqs)
	if meta == nil {
		meta = &modMeta{}
	}
	return ve, meta, ok, err
}

func (c *Catalog) readVersionFiles(ctx context.Context, v module.Version, f files, reqs *[]versionKey) (verEntry, *modMeta, bool, error) {
	var meta *modMeta
	ve := verEntry{version: intern(v.Version), files: f, reqAt: uint32(len(*reqs))}
	name := func(k modfiles.Kind) string {
		n, _ := modfiles.Name(v, k)
		return n
	}
	mod, err := store.ReadAll(ctx, c.st, name(modfiles.Mod))
	if errors.Is(err, fs.ErrNotExist) {
		return ve, meta, false, nil
	}
	if err != nil {
		return ve, meta, false, err
	}
	ve.modSize = int32(min(len(mod), 1<<31-1))
	if h, ok := decodeH1(modfiles.HashMod(mod)); ok {
		ve.modHash, ve.hashes = h, ve.hashes|hasModHash
	}
	if mf, err := modfile.ParseLax("go.mod", mod, nil); err == nil {
		meta = metaOf(mf)
		if mf.Go != nil {
			ve.goVersion = intern(mf.Go.Version)
		}
		for _, r := range mf.Require {
			*reqs = append(*reqs, versionKey{intern(r.Mod.Path), intern(r.Mod.Version)})
		}
		ve.reqN = uint32(len(*reqs)) - ve.reqAt
	}
	if f&fZip == 0 {
		return ve, meta, true, nil
	}
	fi, err := c.stat(ctx, name(modfiles.Zip))
	if errors.Is(err, fs.ErrNotExist) {
		return ve, meta, false, nil
	}
	if err != nil {
		return ve, meta, false, err
	}
	ve.zipSize = fi.Size()
	return ve, meta, true, nil
}

// readDetails reads what only module pages show: the .info time and the
// .ziphash. It reports false when the version is being deleted.
func (c *Catalog) readDetails(ctx context.Context, v module.Version, ve *verEntry) (bool, error) {
	if ve.files&fInfo != 0 {
		name, _ := modfiles.Name(v, modfiles.Info)
		info, err := store.ReadAll(ctx, c.st, name)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var ij modules.InfoJSON
		if json.Unmarshal(info, &ij) == nil && !ij.Time.IsZero() {
			ve.time = ij.Time.UnixNano()
		}
	}
	if ve.files&fZipHash != 0 {
		name, _ := modfiles.Name(v, modfiles.ZipHash)
		zh, err := store.ReadAll(ctx, c.st, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if h, ok := decodeH1(strings.TrimSpace(string(zh))); ok {
			ve.zipHash, ve.hashes = h, ve.hashes|hasZipHash
		}
	}
	ve.hashes |= hasDetails
	return true, nil
}

// stat returns the named object's file information.
func (c *Catalog) stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if lp, ok := c.st.(store.Pather); ok {
		if err := store.CheckName(name); err != nil {
			return nil, err
		}
		fi, err := os.Stat(lp.Path(name))
		if err == nil && !fi.Mode().IsRegular() {
			err = &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
		}
		return fi, err
	}
	return store.Stat(ctx, c.st, name)
}

// loadLatest sets m.latest, m.retract and m.deprecated from the latest
// go.mod: one just read (metas), the one old read, or read now.
func (c *Catalog) loadLatest(ctx context.Context, m *modEntry, metas map[string]*modMeta, old *modEntry) error {
	raw := chooseLatest(m.vers, nil)
	if raw == "" {
		return nil
	}
	m.rawLatest = raw
	meta := metas[raw]
	if meta == nil && old != nil && old.rawLatest == raw {
		meta = &modMeta{deprecated: old.deprecated, isDepr: old.isDepr, retract: old.retract}
	}
	if meta == nil {
		name, _ := modfiles.Name(module.Version{Path: m.path, Version: raw}, modfiles.Mod)
		data, err := store.ReadAll(ctx, c.st, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		meta = &modMeta{}
		if mf, err := modfile.ParseLax("go.mod", data, nil); err == nil {
			meta = metaOf(mf)
		}
	}
	m.deprecated, m.isDepr, m.retract = meta.deprecated, meta.isDepr, meta.retract
	m.latest = chooseLatest(m.vers, m)
	if m.latest == "" {
		m.latest = raw
	}
	return nil
}

// chooseLatest picks from complete versions in semver order as the go
// command does for @latest: the highest release (a +incompatible one only
// if there is no other), else the highest pre-release, else the highest
// pseudo-version; versions that retr retracts are left out (retr nil: none).
func chooseLatest(vers []verEntry, retr *modEntry) string {
	var release, incompatible, pre, pseudo string
	for i := range vers {
		ve := &vers[i]
		if ve.goModOnly() {
			continue
		}
		v := ve.version.Value()
		if retr != nil {
			if _, ok := retr.retractedBy(v); ok {
				continue
			}
		}
		switch {
		case module.IsPseudoVersion(v):
			pseudo = v
		case semver.Prerelease(v) != "":
			pre = v
		case strings.HasSuffix(v, "+incompatible"):
			incompatible = v
		default:
			release = v
		}
	}
	return cmpOrString(release, incompatible, pre, pseudo)
}

func cmpOrString(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// decodeH1 decodes an "h1:" hash.
func decodeH1(s string) ([32]byte, bool) {
	var h [32]byte
	b64, ok := strings.CutPrefix(s, "h1:")
	if !ok || base64.StdEncoding.DecodedLen(len(b64)) < 32 {
		return h, false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != 32 {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

func encodeH1(h [32]byte) string {
	var b [3 + 44]byte
	copy(b[:], "h1:")
	base64.StdEncoding.Encode(b[3:], h[:])
	return string(b[:])
}

// Refresh brings the whole index up to date: it lists every module's @v
// directory, reads the modules whose listing changed, drops the modules
// that no longer have a version, and reads new import records (the
// publishes in the audit log are read by Run after it, and on demand by
// the pages that show them). On a store kept elsewhere it skips the listings while the
// change stamps are unchanged (see stamps and FullWalkEvery). The first
// Refresh to walk the whole store makes the catalog Ready, even if some
// modules could not be read (their error is returned; they are tried
// again next time).
func (c *Catalog) Refresh(ctx context.Context) error {
	c.refreshing.Lock()
	defer c.refreshing.Unlock()
	start := time.Now()
	if err := c.refreshBundles(ctx); err != nil {
		return err
	}
	stamps := c.stamps(ctx)
	if stamps != "" && stamps == c.walked && c.skipped < FullWalkEvery-1 {
		c.skipped++
		c.mu.Lock()
		c.lastRun = start
		c.mu.Unlock()
		return nil
	}
	c.walked, c.skipped = "", 0
	// First the walk: every @v directory listed, and modules the index
	// does not know yet entered at once as skeletons (versions from the
	// listing, no file read), a thousand at a time, so that search
	// results are complete long before every go.mod is read.
	type job struct {
		path  string
		names []string
		seen  *modEntry
		vfs   []verFiles
		fp    uint64
		stamp int64 // of the listing, see walk
	}
	var todo []job
	var fresh []int // indexes in todo of modules new to the index
	flush := func() {
		c.mu.Lock()
		for _, i := range fresh {
			j := &todo[i]
			if c.mods[j.path] == nil {
				c.replace(j.path, nil, skeleton(j.path, j.fp, j.vfs))
			}
			j.seen = c.mods[j.path]
		}
		c.mu.Unlock()
		fresh = fresh[:0]
	}
	seen := map[string]bool{}
	err := c.walk(ctx, func(path string, names []string, stamp int64) {
		seen[path] = true
		if names == nil {
			return // its directory's stamp is the one the index holds
		}
		c.mu.RLock()
		cur := c.mods[path]
		c.mu.RUnlock()
		if cur != nil && cur.detailed && cur.fp == fingerprint(names) {
			if stamp != 0 {
				cur.dirStamp.Store(stamp)
			}
			return // unchanged: no need to parse the listing
		}
		fp, vfs := parseListing(names)
		if cur == nil && len(vfs) == 0 {
			return
		}
		todo = append(todo, job{path, names, cur, vfs, fp, stamp})
		if cur == nil && len(vfs) > 0 {
			if fresh = append(fresh, len(todo)-1); len(fresh) >= 1000 {
				flush()
			}
		}
	})
	flush()
	if err != nil {
		return err
	}

	// Then read what changed, in parallel.
	jobs := make(chan job)
	var (
		errMu    sync.Mutex
		firstErr error
	)
	var wg sync.WaitGroup
	for range store.Concurrency(c.st) {
		wg.Go(func() {
			for j := range jobs {
				n, err := c.check(ctx, j.path, j.names, j.seen, false)
				if n != nil && j.stamp != 0 && n.fp == j.fp {
					n.dirStamp.Store(j.stamp) // n was made from this listing
				}
				if err != nil {
					errMu.Lock()
					firstErr = cmp.Or(firstErr, fmt.Errorf("%s: %w", j.path, err))
					errMu.Unlock()
				}
			}
		})
	}
	for i := range todo {
		jobs <- todo[i]
		todo[i] = job{} // let its listing go
	}
	close(jobs)
	wg.Wait()
	// Modules indexed but not seen: check them one by one (a module
	// whose directory appeared after the walk passed it stays).
	c.mu.RLock()
	var gone []string
	for p := range c.mods {
		if !seen[p] {
			gone = append(gone, p)
		}
	}
	c.mu.RUnlock()
	for _, p := range gone {
		if _, err := c.check(ctx, p, nil, nil, false); err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("%s: %w", p, err))
		}
	}
	// A module that could not be read (an unreadable file, say) keeps its
	// previous entry and is reported; the pass over everything else
	// counts, so one bad file does not keep the catalog partial forever.
	c.mu.Lock()
	c.lastRun = start
	c.mu.Unlock()
	c.markReady()
	if err := c.fillDetails(ctx); err != nil {
		firstErr = cmp.Or(firstErr, err)
	}
	if firstErr == nil {
		c.walked = stamps
	}
	return firstErr
}

// FullWalkEvery bounds the refreshes in a row that skip the walk: every
// FullWalkEvery-th one walks even though the change stamps did not move,
// for a writer that does not stamp (an older modferry on the same store).
const FullWalkEvery = 10

// stamps returns what Refresh compares to skip its walk of a store kept
// elsewhere: the content of the stamps that every addition and removal of
// module versions rewrites (modules.AdditionStamp, RemovalStamp), read
// before the walk, so that a change made during a walk moves them for the
// next refresh. On such a store the walk is a listing per directory
// (thousands of requests a minute on a big store, for every server); the
// stamps are two reads. "" means walk: a local store (whose walk is one
// stat per module while its directory is unchanged) or a stamp that could
// not be read.
func (c *Catalog) stamps(ctx context.Context) string {
	if _, ok := c.st.(store.Local); ok {
		return ""
	}
	var out []byte
	for _, name := range []string{modules.AdditionStamp, modules.RemovalStamp} {
		b, err := store.ReadAll(ctx, c.st, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return ""
		}
		out = append(append(out, b...), 0)
	}
	return string(out)
}

// fillDetails reads what only module pages show (the .info times and the
// .ziphash hashes) for every module whose entry lacks it, so that the first
// view of a module page does not read two files per version: on a big
// store, most views are first views. It runs after the catalog is Ready
// (search, statistics and dependents do not wait for it) and reads each
// module's versions as the index lists them, without listing the
// directory again; a module that changed meanwhile is left to its next
// check.
func (c *Catalog) fillDetails(ctx context.Context) error {
	c.mu.RLock()
	var todo []*modEntry
	for _, m := range c.mods {
		if !m.full {
			todo = append(todo, m)
		}
	}
	c.mu.RUnlock()
	jobs := make(chan *modEntry)
	var (
		errMu    sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range store.Concurrency(c.st) {
		wg.Go(func() {
			for m := range jobs {
				if err := c.fillModule(ctx, m); err != nil {
					errMu.Lock()
					firstErr = cmp.Or(firstErr, fmt.Errorf("%s: %w", m.path, err))
					errMu.Unlock()
				}
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
	return cmp.Or(firstErr, ctx.Err())
}

// fillModule reads the details of m's versions if the index still holds m.
func (c *Catalog) fillModule(ctx context.Context, m *modEntry) error {
	mu := c.stripe(m.path)
	mu.Lock()
	defer mu.Unlock()
	c.mu.RLock()
	cur := c.mods[m.path]
	c.mu.RUnlock()
	if cur != m || !m.detailed {
		return nil // replaced meanwhile, or a skeleton: the next check reads it
	}
	vfs := make([]verFiles, len(m.vers))
	for i := range m.vers {
		vfs[i] = verFiles{m.vers[i].version.Value(), m.vers[i].files}
	}
	n, err := c.load(ctx, m.path, m.fp, vfs, m, true)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.replace(m.path, c.mods[m.path], n)
	c.mu.Unlock()
	return nil
}

// skeleton is the entry of a module whose files were not read yet: its
// versions as the listing names them.
func skeleton(path string, fp uint64, vfs []verFiles) *modEntry {
	m := &modEntry{path: path, lower: strings.ToLower(path), fp: fp, vers: make([]verEntry, len(vfs))}
	for i, vf := range vfs {
		m.vers[i] = verEntry{version: intern(vf.version), files: vf.files}
	}
	m.latest = chooseLatest(m.vers, nil)
	return m
}

// walk lists the store's module directories and calls fn, from the
// caller's goroutine, for every @v directory with the module path, the
// directory's listing and its stamp (store.DirStamp; 0 when the listing
// cannot be matched to one). An @v directory whose stamp is the one the
// index's detailed entry holds is not listed: fn gets nil names. On a
// local store a periodic refresh thus stats each module's directory
// instead of listing and parsing it. On a store kept elsewhere the
// listings are made several at once (store.ListWorkers), a batch of
// modules at a time, so that fn sees the first modules before the last
// are listed.
func (c *Catalog) walk(ctx context.Context, fn func(path string, names []string, stamp int64)) error {
	workers := store.ListWorkers(c.st)
	dirs, err := modules.ModuleDirs(ctx, c.st, workers)
	if err != nil {
		return err
	}
	type listing struct {
		names []string
		stamp int64
		skip  bool
	}
	const batch = 256
	got := make([]listing, batch)
	for len(dirs) > 0 {
		part := dirs[:min(batch, len(dirs))]
		dirs = dirs[len(part):]
		err := store.EachLimit(ctx, workers, len(part), func(ctx context.Context, i int) error {
			got[i] = listing{}
			p := part[i].Path
			if module.CheckPath(p) != nil {
				got[i].skip = true
				return nil
			}
			vdir := part[i].Dir + "/@v"
			stamp, _ := store.DirStamp(c.st, vdir)
			if stamp != 0 {
				c.mu.RLock()
				cur := c.mods[p]
				c.mu.RUnlock()
				if cur != nil && cur.detailed && cur.dirStamp.Load() == stamp {
					got[i].stamp = stamp
					return nil
				}
			}
			start := time.Now()
			names, err := c.st.List(ctx, vdir)
			if err != nil {
				return err
			}
			if !store.StableStamp(stamp, start) {
				stamp = 0
			}
			got[i] = listing{names: names, stamp: stamp}
			return nil
		})
		if err != nil {
			return err
		}
		for i, d := range part {
			if !got[i].skip {
				fn(d.Path, got[i].names, got[i].stamp)
			}
		}
	}
	return nil
}

// RefreshModules brings the index's entries for the given module paths
// up to date at once: a server calls it after its own imports, publishes
// and deletes.
func (c *Catalog) RefreshModules(ctx context.Context, paths ...string) error {
	for _, p := range paths {
		if _, err := c.check(ctx, p, nil, nil, false); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := c.refreshBundles(ctx); err != nil {
		return err
	}
	return c.refreshPublished(ctx)
}
