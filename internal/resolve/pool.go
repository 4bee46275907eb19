package resolve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/module"
)

// poolModulePath is the module path of the synthetic main modules that
// require a module argument. The .invalid top-level domain guarantees it
// never names a real module.
const poolModulePath = "modferry.invalid/pool"

// pool is a synthetic main module requiring one module argument, so that
// the argument is carried with what a module depending on it needs.
type pool struct {
	dir  string
	args []module.Version // resolved
}

// getLibrary starts resolving a module argument (or a package that is not
// a command) as a dependency: go get in a synthetic main module of its
// own. Loading the pool then fetches what a module depending on it needs.
// It returns the argument with its version resolved.
func getLibrary(ctx context.Context, g *goRunner, project string, arg module.Version, dir, goVersion string) (*pool, module.Version, error) {
	p := &pool{dir: dir}
	if err := os.MkdirAll(p.dir, 0o777); err != nil {
		return nil, module.Version{}, err
	}
	gomod := "module " + poolModulePath + "\n\ngo " + goVersion + "\n"
	if err := os.WriteFile(filepath.Join(p.dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return nil, module.Version{}, err
	}
	if _, err := g.run(ctx, project, p.dir, moduleMode, "get", arg.String()); err != nil {
		return nil, module.Version{}, err
	}
	m, err := providing(ctx, g, project, p.dir, arg.Path)
	if err != nil {
		return nil, module.Version{}, err
	}
	if m.Path == arg.Path && module.CanonicalVersion(arg.Version) == arg.Version && m.Version != arg.Version {
		return nil, module.Version{}, fmt.Errorf("resolve: go get %s selected %s", arg, m)
	}
	p.args = []module.Version{m}
	return p, module.Version{Path: arg.Path, Version: m.Version}, nil
}

// providing returns the module of the build list in dir that provides the
// module or package path p: the longest module path that is p or a prefix
// of it, as the go command picks among nested modules.
func providing(ctx context.Context, g *goRunner, project, dir, p string) (module.Version, error) {
	out, err := g.run(ctx, project, dir, moduleMode, "list", "-m", "-json", "all")
	if err != nil {
		return module.Version{}, err
	}
	var best module.Version
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct {
			Path, Version string
			Main          bool
		}
		if err := dec.Decode(&m); err != nil {
			break
		}
		if !m.Main && (p == m.Path || strings.HasPrefix(p, m.Path+"/")) && len(m.Path) > len(best.Path) {
			best = module.Version{Path: m.Path, Version: m.Version}
		}
	}
	if best.Path == "" {
		return module.Version{}, fmt.Errorf("resolve %s: no module in the build list provides %s", project, p)
	}
	return best, nil
}

// load runs the project commands in the pool. go mod tidy only keeps
// requirements whose packages are imported, so the pool gets a file,
// excluded from builds by a build tag that tidy ignores, importing every
// importable package of the arguments.
func (p *pool) load(ctx context.Context, g *goRunner, project string, logf func(string, ...any)) error {
	var patterns []string
	for _, a := range p.args {
		patterns = append(patterns, a.Path+"/...")
	}
	run := func(args ...string) ([]byte, error) {
		return g.run(ctx, project, p.dir, moduleMode, args...)
	}
	// go mod download all in two parts, as for projects: the go.mod
	// files of the graph now, the zips once the packages are loaded
	// (zipFetcher).
	zips, err := g.buildList(ctx, project, p.dir, moduleMode)
	if err != nil {
		return err
	}
	defer g.zips.prefetch(zips)()
	if _, err := run(append([]string{"list", "-deps", "-test"}, patterns...)...); err != nil {
		// A module argument need not build on this platform; fetch what
		// loads.
		var ge *GoCommandError
		if !errors.As(err, &ge) {
			return err
		}
		logf("resolve: %v; retrying with -e", err)
		if _, err := run(append([]string{"list", "-e", "-deps", "-test"}, patterns...)...); err != nil {
			return err
		}
	}
	out, err := run(append([]string{"list", "-e", "-f", "{{if not .Error}}{{if ne .Name \"main\"}}{{.ImportPath}}{{end}}{{end}}"}, patterns...)...)
	if err != nil {
		return err
	}
	var imports []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		ip := strings.TrimSpace(sc.Text())
		if ip == "" || isInternal(ip) || strings.Contains("/"+ip+"/", "/vendor/") {
			continue
		}
		imports = append(imports, ip)
	}
	sort.Strings(imports)
	var b strings.Builder
	b.WriteString("//go:build modferry_pool\n\npackage pool\n\nimport (\n")
	for _, ip := range imports {
		fmt.Fprintf(&b, "\t_ %q\n", ip)
	}
	b.WriteString(")\n")
	if len(imports) > 0 {
		if err := os.WriteFile(filepath.Join(p.dir, "pool.go"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	// -e: a module argument's packages may import what never resolves
	// under some build tag; tidy still records all it can. No go mod
	// verify, as for projects: it asks for nothing that go mod download
	// all would not fetch, and re-hashes every zip and directory.
	if _, err := run("mod", "tidy", "-e"); err != nil {
		return err
	}
	tidied, err := g.buildList(ctx, project, p.dir, moduleMode)
	if err != nil {
		return err
	}
	goSum, err := readGoSums(filepath.Join(p.dir, "go.sum"))
	if err != nil {
		return err
	}
	return g.zips.fetch(ctx, g, project, p.dir, moduleMode, goSum, zips, tidied)
}

func isInternal(importPath string) bool {
	return strings.HasSuffix(importPath, "/internal") || strings.Contains(importPath, "/internal/") || strings.HasPrefix(importPath, "internal/")
}
