package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/catalog"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/store"
)

// bundleRec is one import record as the pages show it.
type bundleRec struct {
	Digest   string
	Imported time.Time
	Actor    string
	File     string
	Signer   string // the keys whose signatures verified at import (from the audit log), ", "-separated
	Manifest *bundle.Manifest
	Raw      []byte // the manifest as recorded
	HasCDX   bool
	HasSPDX  bool
	Zips     int   // module versions carried with their zip
	GoMods   int   // module versions carried for their go.mod only
	Bytes    int64 // sum of the member sizes
}

// Short is the first 12 hex digits of the digest.
func (b *bundleRec) Short() string { return b.Digest[:min(12, len(b.Digest))] }

// bundles reads and caches the import history. Records and SBOMs are
// immutable once written (an import writes its record last), so a record
// read once is kept; each call lists the history directory again.
type bundles struct {
	st store.Store

	mu       sync.Mutex
	recs     map[string]*bundleRec          // by record name
	licences map[string]map[string][]string // by digest: "path@version" -> SPDX ids
}

// list returns the import history, newest first.
func (b *bundles) list(ctx context.Context) ([]*bundleRec, error) {
	names, err := b.st.List(ctx, catalog.HistoryDir)
	if err != nil {
		return nil, err
	}
	var out []*bundleRec
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		b.mu.Lock()
		rec := b.recs[n]
		b.mu.Unlock()
		if rec == nil {
			rec, err = b.read(ctx, n, names)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if rec == nil {
				continue
			}
			b.mu.Lock()
			if b.recs == nil {
				b.recs = map[string]*bundleRec{}
			}
			b.recs[n] = rec
			b.mu.Unlock()
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(x, y *bundleRec) int {
		return cmp.Or(y.Imported.Compare(x.Imported), strings.Compare(x.Digest, y.Digest))
	})
	return out, nil
}

// read reads the record name; names is the listing of the history
// directory (for the SBOM sub-directories). A record this version cannot
// read is skipped (nil, nil).
func (b *bundles) read(ctx context.Context, name string, names []string) (*bundleRec, error) {
	data, err := store.ReadAll(ctx, b.st, catalog.HistoryDir+"/"+name)
	if err != nil {
		return nil, err
	}
	var rf importer.Record
	if json.Unmarshal(data, &rf) != nil {
		return nil, nil
	}
	var m bundle.Manifest
	if json.Unmarshal(rf.Manifest, &m) != nil {
		return nil, nil
	}
	rec := &bundleRec{
		Digest: cmp.Or(rf.Digest, strings.TrimSuffix(name, ".json")), Imported: rf.Imported,
		Actor: rf.Actor, File: rf.File, Manifest: &m, Raw: rf.Manifest,
	}
	for _, mod := range m.Modules {
		if mod.ZipHash != "" {
			rec.Zips++
		} else {
			rec.GoMods++
		}
	}
	for _, f := range m.Files {
		rec.Bytes += f.Size
	}
	if slices.Contains(names, rec.Digest+"/") {
		sub, err := b.st.List(ctx, catalog.HistoryDir+"/"+rec.Digest)
		if err != nil {
			return nil, err
		}
		rec.HasCDX = slices.Contains(sub, bundle.SBOMCycloneDX)
		rec.HasSPDX = slices.Contains(sub, bundle.SBOMSPDX)
	}
	return rec, nil
}

// find returns the record of digest, or nil.
func (b *bundles) find(ctx context.Context, digest string) (*bundleRec, error) {
	all, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if r.Digest == digest {
			return r, nil
		}
	}
	return nil, nil
}

// cdxDoc is the part of a CycloneDX SBOM the licences come from.
type cdxDoc struct {
	Components []struct {
		Name     string `json:"name"`
		Version  string `json:"version"`
		Licenses []struct {
			License *struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"license"`
			Expression string `json:"expression"`
		} `json:"licenses"`
	} `json:"components"`
}

// licencesOf returns the licences the CycloneDX SBOM of bundle digest
// lists for path@version (nil when unknown). Each SBOM is read once.
func (b *bundles) licencesOf(ctx context.Context, digest, path, version string) []string {
	b.mu.Lock()
	m, ok := b.licences[digest]
	b.mu.Unlock()
	if !ok {
		m = map[string][]string{}
		data, err := store.ReadAll(ctx, b.st, importer.SBOMName(digest, bundle.SBOMCycloneDX))
		var doc cdxDoc
		if err == nil && json.Unmarshal(data, &doc) == nil {
			for _, c := range doc.Components {
				var ids []string
				for _, l := range c.Licenses {
					switch {
					case l.Expression != "":
						ids = append(ids, l.Expression)
					case l.License != nil:
						ids = append(ids, cmp.Or(l.License.ID, l.License.Name))
					}
				}
				if len(ids) > 0 {
					m[c.Name+"@"+c.Version] = ids
				}
			}
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil // try again next time
		}
		b.mu.Lock()
		if b.licences == nil {
			b.licences = map[string]map[string][]string{}
		}
		b.licences[digest] = m
		b.mu.Unlock()
	}
	return m[path+"@"+version]
}

// change is one line of a "what changed" view.
type change struct {
	Path string
	From string // version in the older bundle; "" when added
	To   string // version in the newer bundle; "" when removed
}

// diffBundles compares the module sets of two manifests, by path: a path
// in both with other versions is one change from the old versions to the
// new.
func diffBundles(a, b *bundle.Manifest) (added, removed, changed []change, same int) {
	va, vb := versionsByPath(a), versionsByPath(b)
	for p, vs := range vb {
		old, ok := va[p]
		switch {
		case !ok:
			added = append(added, change{Path: p, To: strings.Join(vs, ", ")})
		case !slices.Equal(old, vs):
			changed = append(changed, change{Path: p, From: strings.Join(old, ", "), To: strings.Join(vs, ", ")})
		default:
			same++
		}
	}
	for p, vs := range va {
		if _, ok := vb[p]; !ok {
			removed = append(removed, change{Path: p, From: strings.Join(vs, ", ")})
		}
	}
	for _, l := range [][]change{added, removed, changed} {
		slices.SortFunc(l, func(x, y change) int { return strings.Compare(x.Path, y.Path) })
	}
	return added, removed, changed, same
}

func versionsByPath(m *bundle.Manifest) map[string][]string {
	out := map[string][]string{}
	for _, mod := range m.Modules {
		out[mod.Path] = append(out[mod.Path], mod.Version)
	}
	for _, vs := range out {
		semver.Sort(vs)
	}
	return out
}
