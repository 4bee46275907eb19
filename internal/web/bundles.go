package web

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/bundle"
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
