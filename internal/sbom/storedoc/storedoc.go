// Package storedoc assembles the SBOM document of what a module store
// holds (package sbom writes it): every module version in the store, or
// those one project needs, with licences read from the stored zips and
// requirement edges from the stored go.mod files. The projects (roots)
// come from the SBOMs that import kept for each bundle
// (importer.SBOMName): for a project exported several times, the newest
// bundle's root is used. Bundles imported before SBOMs were kept, and
// modules added by publish or import --cache-dir, contribute module
// versions but no project.
package storedoc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/digest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/sbom"
	"github.com/modferry/modferry/internal/store"
)

// Options configure Build.
type Options struct {
	// Project, if set, limits the document to that project (a project
	// directory or module@version argument as the bundle manifests name
	// it) and the module versions reachable from it.
	Project string
	// Tool is the document's tool ("modferry VERSION").
	Tool string
	// Now is the creation time; zero means time.Now.
	Now time.Time
}

// ErrUnknownProject is returned (wrapped) when Options.Project names no
// project of the store's kept SBOMs.
var ErrUnknownProject = errors.New("no such project in the store's kept SBOMs")

// Build returns the SBOM document of the store, or of one project.
func Build(ctx context.Context, st store.Store, opts Options) (sbom.Doc, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	doc := sbom.Doc{Name: "modferry store", Created: now.UTC().Truncate(time.Second), Tool: opts.Tool}
	roots, err := Roots(ctx, st)
	if err != nil {
		return doc, err
	}
	if opts.Project != "" {
		doc.Name = opts.Project
		var names []string
		for _, r := range roots {
			if r.Name == opts.Project {
				roots = []sbom.Root{r}
				break
			}
			names = append(names, r.Name)
		}
		if len(roots) != 1 || roots[0].Name != opts.Project {
			if len(names) == 0 {
				return doc, fmt.Errorf("%w: %q (the store keeps no project SBOMs: import bundles made by this version)", ErrUnknownProject, opts.Project)
			}
			return doc, fmt.Errorf("%w: %q; the projects are %s", ErrUnknownProject, opts.Project, strings.Join(names, ", "))
		}
	}
	doc.Roots = roots

	entries, err := (&modules.Repo{Store: st}).All(ctx)
	if err != nil {
		return doc, err
	}
	// A zip without its .info is a version being written, or whose
	// writer was interrupted: nothing the store serves.
	entries = slices.DeleteFunc(entries, func(e modules.Entry) bool { return e.HasZip && !e.HasInfo })
	mods := make([]sbom.Module, len(entries))
	gomods := map[module.Version][]byte{}
	for i, e := range entries {
		name, _ := modfiles.Name(e.Version, modfiles.Mod)
		data, err := store.ReadAll(ctx, st, name)
		if err != nil {
			return doc, err
		}
		gomods[e.Version] = data
		mods[i] = sbom.Module{Version: e.Version, ModHash: modfiles.HashMod(data)}
		mods[i].ZipHash = e.ZipHash
	}
	err = sbom.Link(mods, func(v module.Version) ([]byte, error) { return gomods[v], nil })
	if err != nil {
		return doc, err
	}
	hasZip := map[module.Version]bool{}
	for _, e := range entries {
		hasZip[e.Version] = e.HasZip
	}
	if opts.Project != "" {
		if bl := roots[0].BuildList; len(bl) > 0 {
			// The versions the project builds with: a delta bundle's
			// SBOM lists only what it carried, and the requirement
			// closure would add versions minimal version selection
			// passes over.
			mods = inBuildList(mods, bl)
		} else {
			mods = reachable(mods, roots)
		}
	}
	if err := zipFacts(ctx, st, mods, hasZip); err != nil {
		return doc, err
	}
	doc.Modules = mods
	return doc, nil
}

// inBuildList returns the modules of the build list, in their order.
func inBuildList(mods []sbom.Module, bl []module.Version) []sbom.Module {
	in := make(map[module.Version]bool, len(bl))
	for _, v := range bl {
		in[v] = true
	}
	var out []sbom.Module
	for _, m := range mods {
		if in[m.Version] {
			out = append(out, m)
		}
	}
	return out
}

// reachable returns the modules reachable from the roots over the
// requirement edges, in their order.
func reachable(mods []sbom.Module, roots []sbom.Root) []sbom.Module {
	idx := map[module.Version]int{}
	for i, m := range mods {
		idx[m.Version] = i
	}
	seen := map[module.Version]bool{}
	var queue []module.Version
	for _, r := range roots {
		queue = append(queue, r.Requires...)
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		i, ok := idx[v]
		if !ok || seen[v] {
			continue
		}
		seen[v] = true
		queue = append(queue, mods[i].Requires...)
	}
	var out []sbom.Module
	for _, m := range mods {
		if seen[m.Version] {
			out = append(out, m)
		}
	}
	return out
}

// zipFacts fills in the zip SHA-256, the h1: hash where the store has not
// recorded it, and the licences of every module with a zip.
func zipFacts(ctx context.Context, st store.Store, mods []sbom.Module, hasZip map[module.Version]bool) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range mods {
		if !hasZip[mods[i].Version] {
			continue
		}
		g.Go(func() error {
			m := &mods[i]
			name, _ := modfiles.Name(m.Version, modfiles.Zip)
			file, cleanup, err := store.LocalFile(gctx, st, name, "")
			if err != nil {
				return err
			}
			defer cleanup()
			sum, err := digest.File(file)
			if err != nil {
				return err
			}
			m.ZipSHA256 = sum
			if m.ZipHash == "" { // not recorded beside the zip
				if m.ZipHash, err = modfiles.HashZip(file); err != nil {
					return fmt.Errorf("%s: %w", m.Version, err)
				}
			}
			m.Licenses, err = sbom.ZipLicenses(file, m.Version)
			return err
		})
	}
	return g.Wait()
}

// Roots returns the projects and module arguments recorded in the
// CycloneDX SBOMs the store keeps, one per name (the newest bundle's),
// sorted by name.
func Roots(ctx context.Context, st store.Store) ([]sbom.Root, error) {
	names, err := st.List(ctx, "bundles")
	if err != nil {
		return nil, err
	}
	type dated struct {
		root    sbom.Root
		created string
	}
	newest := map[string]dated{}
	for _, n := range names {
		digest, ok := strings.CutSuffix(n, "/")
		if !ok {
			continue
		}
		data, err := store.ReadAll(ctx, st, importer.SBOMName(digest, bundle.SBOMCycloneDX))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		created, roots, err := ReadRoots(data)
		if err != nil {
			return nil, fmt.Errorf("the SBOM kept for bundle %s: %w", digest, err)
		}
		for _, r := range roots {
			if have, ok := newest[r.Name]; !ok || created > have.created {
				newest[r.Name] = dated{r, created}
			}
		}
	}
	out := make([]sbom.Root, 0, len(newest))
	for _, d := range newest {
		out = append(out, d.root)
	}
	slices.SortFunc(out, func(a, b sbom.Root) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ReadRoots returns the creation timestamp (RFC 3339) and the roots of a
// CycloneDX document package sbom wrote: the components with the
// modferry:root property, each with the module versions it depends on.
func ReadRoots(data []byte) (string, []sbom.Root, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return "", nil, err
	}
	created := ""
	if bom.Metadata != nil {
		created = bom.Metadata.Timestamp
	}
	if bom.Components == nil {
		return created, nil, nil
	}
	versions := map[string]module.Version{}
	var roots []sbom.Root
	rootRefs := map[string]int{}
	for _, c := range *bom.Components {
		if kind := property(c.Properties, sbom.PropertyRoot); kind != "" {
			rootRefs[c.BOMRef] = len(roots)
			roots = append(roots, sbom.Root{Name: c.Name, Module: kind == "module",
				Requires:  sbom.SplitVersions(property(c.Properties, sbom.PropertyRequires)),
				BuildList: sbom.SplitVersions(property(c.Properties, sbom.PropertyBuildList))})
			continue
		}
		versions[c.BOMRef] = module.Version{Path: c.Name, Version: c.Version}
	}
	if bom.Dependencies != nil {
		for _, d := range *bom.Dependencies {
			i, ok := rootRefs[d.Ref]
			if !ok || d.Dependencies == nil || roots[i].Requires != nil {
				continue // the requires property, where written, has them all
			}
			for _, ref := range *d.Dependencies {
				if v, ok := versions[ref]; ok {
					roots[i].Requires = append(roots[i].Requires, v)
				}
			}
		}
	}
	return created, roots, nil
}

func property(ps *[]cdx.Property, name string) string {
	if ps == nil {
		return ""
	}
	for _, p := range *ps {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}
