package export

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/resolve"
	"github.com/modferry/modferry/internal/sbom"
)

// addSBOMs adds CycloneDX and SPDX documents describing the bundled
// module versions: a root for each project and module argument, the
// requirement edges of the bundled go.mod files, and the licences found
// in each zip. sources maps members to the local files they come from.
func addSBOMs(m *bundle.Manifest, opts Options, res *resolve.Result, sources map[string]string, made *spool) error {
	doc, err := sbomDoc(m, opts, res, sources)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		gen  func(sbom.Doc) ([]byte, error)
	}{{bundle.SBOMCycloneDX, sbom.CycloneDX}, {bundle.SBOMSPDX, sbom.SPDX}} {
		data, err := f.gen(doc)
		if err != nil {
			return err
		}
		bf, err := made.add(f.name, data)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, bf)
	}
	return nil
}

func sbomDoc(m *bundle.Manifest, opts Options, res *resolve.Result, sources map[string]string) (sbom.Doc, error) {
	zipSHA := map[string]string{}
	for _, f := range m.Files {
		zipSHA[f.Path] = f.SHA256
	}
	doc := sbom.Doc{Name: filepath.Base(opts.Output), Created: m.Created, Tool: "modferry " + opts.ToolVersion}
	doc.Modules = make([]sbom.Module, len(m.Modules))
	g := new(errgroup.Group)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, mod := range m.Modules {
		doc.Modules[i] = sbom.Module{Version: mod.ModuleVersion(), ZipHash: mod.ZipHash, ModHash: mod.ModHash}
		if mod.ZipHash == "" {
			continue
		}
		name, _ := bundle.DownloadPath(mod.ModuleVersion(), modfiles.Zip)
		doc.Modules[i].ZipSHA256 = zipSHA[name]
		if src, ok := sources[name]; ok {
			g.Go(func() error {
				ls, err := sbom.ZipLicenses(src, mod.ModuleVersion())
				doc.Modules[i].Licenses = ls
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return doc, fmt.Errorf("licences: %w", err)
	}
	err := sbom.Link(doc.Modules, func(v module.Version) ([]byte, error) {
		name, err := bundle.DownloadPath(v, modfiles.Mod)
		if err != nil {
			return nil, err
		}
		src, ok := sources[name]
		if !ok {
			return nil, fmt.Errorf("no go.mod in the bundle")
		}
		return os.ReadFile(src)
	})
	if err != nil {
		return doc, fmt.Errorf("module graph: %w", err)
	}
	for _, p := range res.Projects {
		reqs, err := sbom.ProjectRequirements(p.Path)
		if err != nil {
			return doc, fmt.Errorf("module graph of %s: %w", p.Path, err)
		}
		doc.Roots = append(doc.Roots, sbom.Root{Name: p.Path, Requires: reqs, BuildList: p.BuildList})
	}
	for _, v := range res.Modules {
		r := sbom.Root{Name: v.String(), Module: true}
		if mv, ok := providingModule(m.Modules, v); ok {
			r.Requires = []module.Version{mv}
		}
		doc.Roots = append(doc.Roots, r)
	}
	return doc, nil
}

// providingModule returns the bundled module version a module argument
// (a module path or a command's package path, at its resolved version)
// names: the longest module path that is arg's path or a prefix of it.
func providingModule(mods []bundle.Module, arg module.Version) (module.Version, bool) {
	var best module.Version
	for _, m := range mods {
		if m.Version != arg.Version || m.ZipHash == "" || len(m.Path) <= len(best.Path) {
			continue
		}
		if m.Path == arg.Path || strings.HasPrefix(arg.Path, m.Path+"/") {
			best = m.ModuleVersion()
		}
	}
	return best, best.Path != ""
}
