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
	"strconv"
	"strings"

	"golang.org/x/mod/module"
)

// poolModulePath is the module path of the synthetic main modules that
// require the module@version arguments. The .invalid top-level domain
// guarantees it never names a real module.
const poolModulePath = "modferry.invalid/pool"

// pool is a synthetic main module requiring some module arguments.
type pool struct {
	dir  string
	args []module.Version // resolved
}

// resolveModules adds every argument to a synthetic main module with
// go get, so that queries resolve and the real requirement graph is
// computed, then loads the pools like projects. An argument that would
// change the version of an earlier argument (two versions of one module,
// or an upgrade through requirements) goes to another pool, so that every
// argument keeps exactly its version. It returns the resolved arguments.
func resolveModules(ctx context.Context, g *goRunner, args []module.Version, runDir, goVersion string, logf func(string, ...any)) ([]module.Version, error) {
	const project = "modules"
	var pools []*pool
	resolved := make([]module.Version, len(args))
	for i, arg := range args {
		placed := false
		for k := 0; !placed; k++ {
			if k == len(pools) {
				p := &pool{dir: filepath.Join(runDir, "pool"+strconv.Itoa(k))}
				if err := os.MkdirAll(p.dir, 0o777); err != nil {
					return nil, err
				}
				gomod := "module " + poolModulePath + "\n\ngo " + goVersion + "\n"
				if err := os.WriteFile(filepath.Join(p.dir, "go.mod"), []byte(gomod), 0o644); err != nil {
					return nil, err
				}
				pools = append(pools, p)
			}
			v, ok, err := pools[k].add(ctx, g, project, arg)
			if err != nil {
				return nil, err
			}
			if ok {
				resolved[i] = v
				placed = true
			} else if k == len(pools)-1 && len(pools[k].args) == 0 {
				return nil, fmt.Errorf("resolve: go get %s: could not place it in an empty module", arg)
			}
		}
	}
	for _, p := range pools {
		if err := p.load(ctx, g, project, logf); err != nil {
			return nil, err
		}
	}
	return resolved, nil
}

// add runs go get arg in the pool. It reports false, leaving the pool as
// it was, if that would change the version of an argument already there.
func (p *pool) add(ctx context.Context, g *goRunner, project string, arg module.Version) (module.Version, bool, error) {
	for _, a := range p.args {
		if a.Path == arg.Path {
			return module.Version{}, false, nil
		}
	}
	saved := map[string][]byte{}
	for _, n := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(p.dir, n))
		if err == nil {
			saved[n] = data
		}
	}
	restore := func() error {
		os.Remove(filepath.Join(p.dir, "go.sum"))
		for n, data := range saved {
			if err := os.WriteFile(filepath.Join(p.dir, n), data, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := g.run(ctx, project, p.dir, moduleMode, "get", arg.String()); err != nil {
		if len(p.args) == 0 {
			return module.Version{}, false, err
		}
		// Maybe a conflict with another argument: try another pool.
		return module.Version{}, false, restore()
	}
	want := append(append([]module.Version(nil), p.args...), module.Version{Path: arg.Path})
	sel, err := selected(ctx, g, project, p.dir, want)
	if err != nil {
		return module.Version{}, false, err
	}
	for _, a := range p.args {
		if sel[a.Path] != a.Version {
			return module.Version{}, false, restore()
		}
	}
	got := module.Version{Path: arg.Path, Version: sel[arg.Path]}
	if module.CanonicalVersion(arg.Version) == arg.Version && got.Version != arg.Version {
		if len(p.args) == 0 {
			return module.Version{}, false, fmt.Errorf("resolve: go get %s selected %s", arg, got)
		}
		return module.Version{}, false, restore()
	}
	p.args = append(p.args, got)
	return got, true, nil
}

// selected returns the selected versions of the paths of ms in dir.
func selected(ctx context.Context, g *goRunner, project, dir string, ms []module.Version) (map[string]string, error) {
	args := []string{"list", "-m", "-json"}
	for _, m := range ms {
		args = append(args, m.Path)
	}
	out, err := g.run(ctx, project, dir, moduleMode, args...)
	if err != nil {
		return nil, err
	}
	sel := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version string }
		if err := dec.Decode(&m); err != nil {
			break
		}
		sel[m.Path] = m.Version
	}
	return sel, nil
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
	if _, err := run("mod", "download", "all"); err != nil {
		return err
	}
	if _, err := run("list", "-m", "all"); err != nil {
		return err
	}
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
	// under some build tag; tidy still records all it can.
	for _, args := range [][]string{
		{"mod", "tidy", "-e"},
		{"mod", "verify"},
		{"mod", "download", "all"},
		{"list", "-m", "all"},
	} {
		if _, err := run(args...); err != nil {
			return err
		}
	}
	return nil
}

func isInternal(importPath string) bool {
	return strings.HasSuffix(importPath, "/internal") || strings.Contains(importPath, "/internal/") || strings.HasPrefix(importPath, "internal/")
}
