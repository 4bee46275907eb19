package catalog

import (
	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/modules"

	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// NotFoundError says the store holds no such module or version. It
// matches fs.ErrNotExist (a server answers 404).
type NotFoundError struct {
	Path    string
	Version string // "" for the whole module
}

func (e *NotFoundError) Error() string {
	if e.Version != "" {
		return fmt.Sprintf("%q@%q: no such module version in the store", e.Path, e.Version)
	}
	return fmt.Sprintf("%q: no such module in the store", e.Path)
}

// Is makes a *NotFoundError match fs.ErrNotExist.
func (e *NotFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// The catalog's answers are the metadata API's types (package api), so
// that the API, the web catalog and the CLI show the same fields.
type (
	Module           = api.Module
	Version          = api.ModuleVersion
	Origin           = api.Origin
	Requirement      = api.Requirement
	Dependent        = api.Dependent
	DependentVersion = api.DependentVersion
)

// The kinds of Origin.
const (
	OriginBundle  = api.OriginBundle
	OriginPublish = api.OriginPublish
)

// ModuleOptions tune Module.
type ModuleOptions struct {
	// Version, if set, must be stored; Requires is then its go.mod's.
	Version string
	// MaxDependents bounds Dependents; 0 means 100, negative none.
	MaxDependents int
}

// Module returns what the store holds of the module path. It lists the
// module's @v directory first and reads what changed, so the answer is
// current even when another process changed the store a moment ago. A
// path or version the store does not hold is a *NotFoundError.
func (c *Catalog) Module(ctx context.Context, path string, opts ModuleOptions) (*Module, error) {
	if module.CheckPath(path) != nil {
		return nil, &NotFoundError{Path: path}
	}
	m, err := c.check(ctx, path, nil, nil, true)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, &NotFoundError{Path: path}
	}
	out := &Module{Path: path, Latest: m.latest, Deprecated: m.deprecated, Partial: !c.Ready(),
		Versions: make([]Version, 0, len(m.vers)), Requires: []Requirement{}, Dependents: []Dependent{}}
	out.RequiresOf = opts.Version
	if out.RequiresOf == "" {
		out.RequiresOf = cmpOrString(m.latest, m.vers[len(m.vers)-1].version.Value())
	}
	found := false
	p := intern(path)
	// A version with no known origin may come from an import or publish
	// another process made since the last refresh: read the import
	// records and audit log appended since, so that the page is exact.
	// On a store kept elsewhere, only if something was added since they
	// were last read here (originStamp).
	if c.originUnknown(p, m) {
		if stamp, stale := c.originStamp(ctx); stale {
			if err := c.refreshBundles(ctx); err != nil {
				return nil, err
			}
			if err := c.refreshPublished(ctx); err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.originsAt = stamp
			c.mu.Unlock()
		}
	}
	c.mu.RLock()
	for i := len(m.vers) - 1; i >= 0; i-- {
		ov := c.version(p, m, &m.vers[i])
		found = found || ov.Version == out.RequiresOf
		out.Versions = append(out.Versions, ov)
	}
	c.mu.RUnlock()
	if !found {
		return nil, &NotFoundError{Path: path, Version: opts.Version}
	}
	if !m.licensed.Load() {
		c.fillLicenses(ctx, path, out.Versions, false)
		c.keepLicenses(m, out.Versions)
	}
	if rc := m.requires.Load(); rc != nil && rc.version == out.RequiresOf {
		out.Requires = slices.Clone(rc.reqs)
	} else {
		if out.Requires, err = c.requires(ctx, module.Version{Path: path, Version: out.RequiresOf}); err != nil {
			return nil, err
		}
		// A version's go.mod never changes, and m is replaced when the
		// module's files do: keep the last answer for the next view.
		m.requires.Store(&requiresOf{out.RequiresOf, slices.Clone(out.Requires)})
	}
	max := opts.MaxDependents
	if max == 0 {
		max = 100
	}
	out.Dependents, out.DependentsTotal = c.dependents(p, max)
	return out, nil
}

// version returns what a module page shows of one version of m (path p).
// c.mu must be held.
func (c *Catalog) version(p handle, m *modEntry, ve *verEntry) Version {
	v := ve.version.Value()
	ov := Version{Version: v, GoModOnly: ve.goModOnly(), ZipSize: ve.zipSize, ModSize: int64(ve.modSize), GoVersion: str(ve.goVersion)}
	if ve.time != 0 {
		ov.Time = time.Unix(0, ve.time).UTC()
	}
	if ve.hashes&hasZipHash != 0 {
		ov.ZipHash = encodeH1(ve.zipHash)
	}
	if ve.hashes&hasModHash != 0 {
		ov.ModHash = encodeH1(ve.modHash)
	}
	if ve.hashes&hasLicenses != 0 {
		ov.Licenses = nonNil(licenseVal{ids: ve.lic}.list())
	}
	if r, ok := m.retractedBy(v); ok {
		ov.Retracted, ov.RetractRationale = true, r.rationale
	}
	k := versionKey{p, ve.version}
	if b, ok := c.origins[k]; ok {
		bi := c.bundles[b]
		ov.Origin = &Origin{Kind: OriginBundle, Bundle: bi.digest, Time: bi.imported, File: bi.file}
	} else if pr, ok := c.published[k]; ok {
		ov.Origin = &Origin{Kind: OriginPublish, Time: pr.time, Actor: pr.actor}
	}
	return ov
}

// versions returns what module pages show of m's versions, newest first.
func (c *Catalog) versions(m *modEntry) []Version {
	p := intern(m.path)
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Version, 0, len(m.vers))
	for i := len(m.vers) - 1; i >= 0; i-- {
		out = append(out, c.version(p, m, &m.vers[i]))
	}
	return out
}

// keepRequires reads the requirements m's page shows by default (those
// of the latest go.mod) unless m holds them already: Run's background
// pass, so that a first view reads no go.mod. The strings are interned,
// shared with the index.
func (c *Catalog) keepRequires(ctx context.Context, m *modEntry) {
	if len(m.vers) == 0 {
		return
	}
	v := cmpOrString(m.latest, m.vers[len(m.vers)-1].version.Value())
	if rc := m.requires.Load(); rc != nil && rc.version == v {
		return
	}
	reqs, err := c.requires(ctx, module.Version{Path: m.path, Version: v})
	if err != nil {
		return // a view reads it
	}
	for i := range reqs {
		reqs[i].Path, reqs[i].Version = intern(reqs[i].Path).Value(), intern(reqs[i].Version).Value()
	}
	m.requires.CompareAndSwap(nil, &requiresOf{v, reqs})
}

// requires reads the require directives of v's go.mod.
func (c *Catalog) requires(ctx context.Context, v module.Version) ([]Requirement, error) {
	name, err := modfiles.Name(v, modfiles.Mod)
	if err != nil {
		return nil, &NotFoundError{Path: v.Path, Version: v.Version}
	}
	data, err := store.ReadAll(ctx, c.st, name)
	if errors.Is(err, fs.ErrNotExist) {
		return []Requirement{}, nil // deleted since it was listed
	}
	if err != nil {
		return nil, err
	}
	out := []Requirement{}
	mf, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return out, nil // a go.mod the go command could not read either
	}
	for _, r := range mf.Require {
		out = append(out, Requirement{Path: r.Mod.Path, Version: r.Mod.Version, Indirect: r.Indirect})
	}
	return out, nil
}

// dependents returns the first max modules (by path) that require p, each
// with its requiring versions, and how many there are in all.
func (c *Catalog) dependents(p handle, max int) ([]Dependent, int) {
	c.mu.RLock()
	dl := c.deps[p]
	if dl == nil || dl.sorted {
		defer c.mu.RUnlock()
	} else {
		// Sort it once, under the write lock, for this and later calls.
		c.mu.RUnlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		if dl = c.deps[p]; dl != nil && !dl.sorted {
			dl.sort()
		}
	}
	if dl == nil {
		return []Dependent{}, 0
	}
	// Count first, so that the answer is two allocations of its size (a
	// page of the module every other requires shows 100 dependents of
	// ten versions each; slices grown by append were most of its garbage).
	mods, n := 0, 0
	for i, e := range dl.edges {
		if i == 0 || e.from.path != dl.edges[i-1].from.path {
			if max >= 0 && mods >= max {
				break
			}
			mods++
		}
		n++
	}
	out := make([]Dependent, 0, mods)
	vers := make([]DependentVersion, n)
	start := 0
	for i, e := range dl.edges[:n] {
		if i == 0 || e.from.path != dl.edges[i-1].from.path {
			out = append(out, Dependent{Path: e.from.path.Value()})
			start = i
		}
		vers[i] = DependentVersion{Version: e.from.version.Value(), Requires: e.requires.Value()}
		out[len(out)-1].Versions = vers[start : i+1 : i+1]
	}
	return out, dl.modules
}

// originStamp reports whether import records or publishes may have come
// since Module last read them, and the addition stamp to remember once
// it has. On a local store it always reads them (a listing and a stat
// when nothing is new). On a store kept elsewhere, where they are a
// listing of bundles/ and one of the audit journal's new entries (on
// MinIO, a walk of the whole journal), it reads the addition stamp,
// which imports and publishes rewrite after their record and their
// audit entry: while it is as it was, nothing they add is new. A
// module whose versions came from a module cache or a fill-through
// fetch has no origin for good, and its page views would otherwise
// make those two listings every time.
func (c *Catalog) originStamp(ctx context.Context) (stamp string, stale bool) {
	if _, ok := c.st.(store.Local); ok {
		return "", true
	}
	b, err := store.ReadAll(ctx, c.st, modules.AdditionStamp)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", true
	}
	stamp = "stamp:" + string(b)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return stamp, stamp != c.originsAt
}

// originUnknown reports whether some version of m has no recorded origin.
func (c *Catalog) originUnknown(p handle, m *modEntry) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i := range m.vers {
		k := versionKey{p, m.vers[i].version}
		if _, ok := c.origins[k]; ok {
			continue
		}
		if _, ok := c.published[k]; !ok {
			return true
		}
	}
	return false
}
