package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/catalog"
)

// bundleRec is one import record as the pages show it, made from the
// catalog's import history (catalog.Bundles, catalog.Bundle).
type bundleRec struct {
	Digest   string
	Imported time.Time
	Actor    string
	File     string
	Signer   string // the keys whose signatures verified at import (from the audit log), ", "-separated
	// Manifest is the whole manifest when the record was read with it
	// (one bundle's page, what changed), else only its projects, times,
	// base inventory and checksum database.
	Manifest *bundle.Manifest
	HasCDX   bool
	HasSPDX  bool
	Zips     int   // module versions carried with their zip
	GoMods   int   // module versions carried for their go.mod only
	Bytes    int64 // sum of the member sizes
}

// Short is the first 12 hex digits of the digest.
func (b *bundleRec) Short() string { return b.Digest[:min(12, len(b.Digest))] }

// recordOf makes the page's view of a bundle of the catalog's history.
func recordOf(b *api.Bundle) (*bundleRec, error) {
	m := &bundle.Manifest{Created: b.Created, ToolVersion: b.ToolVersion, BaseInventory: b.BaseInventory}
	if len(b.Manifest) > 0 {
		if err := json.Unmarshal(b.Manifest, m); err != nil {
			return nil, fmt.Errorf("bundle %s: its manifest: %w", b.Digest, err)
		}
	} else {
		for _, p := range b.Projects {
			m.Projects = append(m.Projects, bundle.Project{Path: p.Path, VCSRevision: p.VCSRevision})
		}
		if b.SumDB != nil {
			m.SumDB = &bundle.SumDBInfo{Name: b.SumDB.Name, TreeHead: b.SumDB.TreeHead}
		}
	}
	return &bundleRec{
		Digest: b.Digest, Imported: b.Imported, Actor: b.Actor, File: b.File,
		Signer: strings.Join(b.Signers, ", "), Manifest: m,
		HasCDX: b.Downloads[api.DownloadCycloneDX] != "", HasSPDX: b.Downloads[api.DownloadSPDX] != "",
		Zips: b.Modules - b.GoModOnly, GoMods: b.GoModOnly, Bytes: b.Bytes,
	}, nil
}

// licences keeps, for each bundle, the licences its CycloneDX SBOM lists.
// SBOMs never change once kept, so each is read once.
type licences struct {
	cat *catalog.Catalog

	mu  sync.Mutex
	ids map[string]map[string][]string // by digest: "path@version" -> SPDX ids
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
func (b *licences) of(ctx context.Context, digest, path, version string) []string {
	b.mu.Lock()
	m, ok := b.ids[digest]
	b.mu.Unlock()
	if !ok {
		m = map[string][]string{}
		data, err := b.cat.BundleFile(ctx, digest, api.DownloadCycloneDX)
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
		if b.ids == nil {
			b.ids = map[string]map[string][]string{}
		}
		b.ids[digest] = m
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
