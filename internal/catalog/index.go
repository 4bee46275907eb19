package catalog

import (
	"cmp"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/mod/semver"
)

// modEntry is what the index holds of one module path. It is immutable
// once in the index: a change replaces the whole entry.
type modEntry struct {
	path  string
	lower string
	fp    uint64 // fingerprint of the @v directory's listing
	// dirStamp is the @v directory's store.DirStamp when a listing
	// matched fp (0: none yet, or not a local store): while the
	// directory's stamp is unchanged, a module page need not list it.
	dirStamp atomic.Int64
	// detailed says the versions' files were read; a skeleton (entered
	// by Refresh before reading them) holds only the listing.
	detailed bool
	// full says every version's details were read too (see readDetails).
	full bool
	vers []verEntry // semver order
	// reqs holds the versions' requirements, each version's at
	// reqs[reqAt:reqAt+reqN] (see reqsOf): one array of the module, so
	// that a verEntry holds no pointer.
	reqs []versionKey
	// latest is the version "go get PATH@latest" picks, "" when the
	// module has no complete version.
	latest     string
	rawLatest  string // the latest version ignoring retractions
	deprecated string // the // Deprecated: message of the latest go.mod
	isDepr     bool
	retract    []retraction // from the latest go.mod
	// requires caches the requirements a module page showed last (the
	// one thing in an entry that changes: it is set once read).
	requires atomic.Pointer[requiresOf]
	// licensed says every version with a zip has its licences in lic
	// (set by the background licence pass, see fillAllLicenses).
	licensed atomic.Bool
}

// requiresOf is the require directives of one version's go.mod.
type requiresOf struct {
	version string
	reqs    []Requirement
}

// retraction is one retract directive: versions low..high (low == high
// for a single version).
type retraction struct {
	low, high, rationale string
}

// covers reports whether the retraction covers version v.
func (r retraction) covers(v string) bool {
	return semver.Compare(r.low, v) <= 0 && semver.Compare(v, r.high) <= 0
}

// retractedBy returns the retraction covering v, if any.
func (m *modEntry) retractedBy(v string) (retraction, bool) {
	for _, r := range m.retract {
		if r.covers(v) {
			return r, true
		}
	}
	return retraction{}, false
}

// files is a bit set of the file kinds a version has.
type files uint8

const (
	fInfo files = 1 << iota
	fMod
	fZip
	fZipHash
	fGone
)

// verEntry is what the index holds of one module version.
type verEntry struct {
	version   handle
	goVersion handle // "" when the go.mod has no go directive
	time      int64  // .info Time, Unix nanoseconds; 0 when unknown
	zipSize   int64
	modSize   int32
	files     files
	hashes    uint8 // hasZipHash | hasModHash | hasDetails
	zipHash   [32]byte
	modHash   [32]byte
	// reqAt and reqN place the go.mod's require directives in the
	// module's reqs (see modEntry.reqsOf).
	reqAt uint32
	reqN  uint32
	// lic are the zip's licences (SPDX identifiers joined by "\n"), when
	// hashes has hasLicenses: what fillLicenses found for this very zip.
	lic handle
}

const (
	hasZipHash uint8 = 1 << iota
	hasModHash
	hasDetails  // the .info and .ziphash were read
	hasLicenses // lic holds the zip's licences
)

func (v *verEntry) goModOnly() bool { return v.files&fZip == 0 }

// reqsOf returns the require directives of v, one of m's versions.
func (m *modEntry) reqsOf(v *verEntry) []versionKey {
	return m.reqs[v.reqAt : v.reqAt+v.reqN : v.reqAt+v.reqN]
}

// depList holds the edges into one required module: who requires it.
type depList struct {
	edges  []depEdge
	sorted bool // edges sorted by (from path, from version)
	// modules counts the distinct requiring modules, once sorted.
	modules int
}

// depEdge says that module version from requires the module at version
// requires.
type depEdge struct {
	from     versionKey
	requires handle
}

// replace puts n in place of old (either may be nil) and updates the
// reverse index, the totals and the search order. c.mu must be held.
func (c *Catalog) replace(path string, old, n *modEntry) {
	if n != nil && len(n.vers) == 0 {
		n = nil
	}
	if old != nil && n != nil && n.fp == old.fp && n.dirStamp.Load() == 0 {
		n.dirStamp.Store(old.dirStamp.Load()) // the same listing
	}
	if !sameReqs(old, n) {
		p := intern(path)
		c.unlink(p, old)
		c.link(p, n)
	}
	c.totals.add(old, -1)
	c.totals.add(n, +1)
	if n != nil {
		c.mods[path] = n
	} else {
		delete(c.mods, path)
	}
	if (old == nil) != (n == nil) {
		c.orderDirty = true // a path came or went
	}
}

// sameReqs reports whether a and b hold the same requirements (b read
// only more details of a's versions), so the reverse index stays as is.
func sameReqs(a, b *modEntry) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.vers) != len(b.vers) {
		return false
	}
	for i := range a.vers {
		if a.vers[i].version != b.vers[i].version || !slices.Equal(a.reqsOf(&a.vers[i]), b.reqsOf(&b.vers[i])) {
			return false
		}
	}
	return true
}

// unlink removes the edges of m's requirements from the reverse index.
func (c *Catalog) unlink(p handle, m *modEntry) {
	if m == nil {
		return
	}
	targets := map[handle]bool{}
	for i := range m.vers {
		for _, r := range m.reqsOf(&m.vers[i]) {
			targets[r.path] = true
		}
	}
	for t := range targets {
		dl := c.deps[t]
		if dl == nil {
			continue
		}
		n := len(dl.edges)
		dl.edges = slices.DeleteFunc(dl.edges, func(e depEdge) bool { return e.from.path == p })
		if len(dl.edges) < n {
			dl.modules-- // p was one of them; the rest stay in order
		}
		if len(dl.edges) == 0 {
			delete(c.deps, t)
		}
	}
}

// link adds the edges of m's requirements to the reverse index. Once the
// catalog is ready, edges go in order into lists already sorted (a change
// of one module must not make the next page of a module every other
// requires sort its whole list again); while it is being built they are
// appended and sorted when first asked for.
func (c *Catalog) link(p handle, m *modEntry) {
	if m == nil {
		return
	}
	ready := c.Ready()
	for i := range m.vers {
		v := &m.vers[i]
		for _, r := range m.reqsOf(v) {
			if r.path == p {
				continue
			}
			dl := c.deps[r.path]
			if dl == nil {
				dl = &depList{sorted: true}
				c.deps[r.path] = dl
			}
			e := depEdge{from: versionKey{p, v.version}, requires: r.version}
			if !ready || !dl.sorted {
				dl.edges = append(dl.edges, e)
				dl.sorted = false
				continue
			}
			at, _ := slices.BinarySearchFunc(dl.edges, e, compareEdges)
			if !(at > 0 && dl.edges[at-1].from.path == p || at < len(dl.edges) && dl.edges[at].from.path == p) {
				dl.modules++
			}
			dl.edges = slices.Insert(dl.edges, at, e)
		}
	}
}

func compareEdges(a, b depEdge) int {
	if c := strings.Compare(a.from.path.Value(), b.from.path.Value()); c != 0 {
		return c
	}
	return semver.Compare(a.from.version.Value(), b.from.version.Value())
}

// sort sorts the edges by requiring module path and version and counts
// the requiring modules. c.mu must be held for writing.
func (dl *depList) sort() {
	slices.SortFunc(dl.edges, compareEdges)
	dl.sorted = true
	dl.modules = 0
	for i, e := range dl.edges {
		if i == 0 || e.from.path != dl.edges[i-1].from.path {
			dl.modules++
		}
	}
}

// rebuildOrder sorts the modules for search. c.mu must be held for writing.
func (c *Catalog) rebuildOrder() {
	order := make([]*modEntry, 0, len(c.mods))
	size := 0
	for _, m := range c.mods {
		order = append(order, m)
		size += len(m.lower) + 1
	}
	slices.SortFunc(order, func(a, b *modEntry) int {
		return cmp.Or(strings.Compare(a.lower, b.lower), strings.Compare(a.path, b.path))
	})
	var b strings.Builder
	b.Grow(size)
	starts := make([]int32, len(order))
	paths := make([]string, len(order))
	for i, m := range order {
		starts[i] = int32(b.Len())
		paths[i] = m.path
		b.WriteString(m.lower)
		b.WriteByte('\n')
	}
	c.order, c.text, c.starts = paths, b.String(), starts
	c.grams = buildGrams(order)
	c.orderDirty = false
}

// trigram returns the trigram of s at i as a map key.
func trigram(s string, i int) uint32 {
	return uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
}

// buildGrams indexes the trigrams of the lower-cased paths in order.
func buildGrams(order []*modEntry) map[uint32][]int32 {
	grams := map[uint32][]int32{}
	for i, m := range order {
		for j := 0; j+3 <= len(m.lower); j++ {
			g := trigram(m.lower, j)
			list := grams[g]
			if len(list) > 0 && list[len(list)-1] == int32(i) {
				continue // already listed: the trigram repeats in this path
			}
			grams[g] = append(list, int32(i))
		}
	}
	return grams
}
