package resolve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/modfiles"
)

// resolveModules resolves every module@version argument on its own, as
// the go command would for someone who types it, and returns the
// arguments with their queries resolved. The arguments run in parallel
// (a few at a time) and share the recorder and the module cache; the
// files they need add up, so the result holds the union of what each
// needs alone. Arguments never share a main module: minimal version
// selection across several would raise shared dependencies above what
// each selects on its own.
//
// An argument that go install accepts (a command, given by its package
// path or by the path of a module whose root is a command) is resolved
// as go install resolves it: see resolveTool. Any other argument (a
// library module, a package that is not a command) is resolved as a
// dependency of a synthetic main module: see getLibrary.
func resolveModules(ctx context.Context, g *goRunner, args []module.Version, runDir, goVersion string, logf func(string, ...any)) ([]module.Version, error) {
	resolved := make([]module.Version, len(args))
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(argJobs())
	for i, arg := range args {
		eg.Go(func() error {
			v, err := resolveArg(ctx, g, arg, filepath.Join(runDir, "arg"+strconv.Itoa(i)), goVersion, logf)
			resolved[i] = v
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return resolved, nil
}

// argJobs bounds how many arguments resolve at once: the go command is
// busy on the CPU while it extracts and hashes modules.
func argJobs() int {
	return min(4, max(2, runtime.GOMAXPROCS(0)))
}

// resolveArg resolves one argument as a command, else as a module.
func resolveArg(ctx context.Context, g *goRunner, arg module.Version, dir, goVersion string, logf func(string, ...any)) (module.Version, error) {
	project := arg.String()
	v, toolErr := resolveTool(ctx, g, project, arg, filepath.Join(dir, "install"), logf)
	if toolErr == nil {
		return v, nil
	}
	var ge *GoCommandError
	if !errors.As(toolErr, &ge) {
		return module.Version{}, toolErr
	}
	p, v, libErr := getLibrary(ctx, g, project, arg, filepath.Join(dir, "pool"), goVersion)
	if libErr == nil {
		// A command that go install refuses is not carried as a library:
		// offline, go install would refuse it too, or lack files.
		cmd, err := isCommand(ctx, g, project, p.dir, arg.Path)
		if err != nil {
			return module.Version{}, err
		}
		if cmd {
			return module.Version{}, toolErr
		}
		libErr = p.load(ctx, g, project, logf)
	}
	if libErr != nil {
		return module.Version{}, fmt.Errorf("resolve %s: neither go install %[1]s nor go get %[1]s works:\n%w", arg, errors.Join(toolErr, libErr))
	}
	logf("resolve: %s: not a command go install builds (%s); carried as a module", arg, lastLine(ge.Stderr))
	return v, nil
}

// resolveTool runs go install -n PATH@VERSION in an empty directory: the
// go command resolves the argument as its own main module, with its own
// module graph, and loads the packages the command is built from, without
// compiling them. What it fetches is what an offline go install of the
// same argument fetches: the go.mod files of the module graph, the zips
// of the modules that provide packages, and the main module's version
// list and latest go.mod (for retractions and deprecations). Test-only
// dependencies are not loaded. It returns the argument with its version
// resolved, read from the build information the link step would embed.
func resolveTool(ctx context.Context, g *goRunner, project string, arg module.Version, dir string, logf func(string, ...any)) (module.Version, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return module.Version{}, err
	}
	// The graph's go.mod files need only the main module's go.mod: when
	// the main module is certain before go install -n says it, they are
	// fetched beside it (3.6 s after a 6.9 s go install -n, one after the
	// other, for golangci-lint). If go install then refuses the argument
	// (a library), what they fetched stays: go get of it needs them too.
	var early module.Version
	graphDone := make(chan struct{})
	go func() {
		defer close(graphDone)
		if m, ok := onlyModuleAt(ctx, g, arg); ok {
			early = m
			toolGraph(ctx, g, project, m, filepath.Join(dir, "graph"), logf)
		}
	}()
	_, stderr, err := g.run2(ctx, project, dir, moduleMode, "install", "-n", arg.String())
	<-graphDone
	if err != nil {
		return module.Version{}, err
	}
	if main, ok := mainModule(stderr); ok {
		if main != early {
			toolGraph(ctx, g, project, main, filepath.Join(dir, "graph-main"), logf)
		}
		return module.Version{Path: arg.Path, Version: main.Version}, nil
	}
	if module.CanonicalVersion(arg.Version) == arg.Version {
		return arg, nil
	}
	return module.Version{}, fmt.Errorf("resolve %s: go install -n printed no build information to resolve the version query from", arg)
}

// toolGraph fetches the go.mod files of the whole module graph of a
// command's main module, beyond those go install loaded (graph pruning
// and lazy loading let it skip some): a go install on another platform,
// or by another go version, may load more of the graph. It runs go list
// -m all in a directory holding only the main module's go.mod. It is best
// effort: go install -n has already fetched what go install needs here.
func toolGraph(ctx context.Context, g *goRunner, project string, main module.Version, dir string, logf func(string, ...any)) {
	name, err := modfiles.ProxyPath(main, modfiles.Mod)
	if err != nil {
		return
	}
	gomod, err := os.ReadFile(filepath.Join(g.rec.dir, filepath.FromSlash(name)))
	if err != nil {
		// Fetched directly (GONOPROXY): in the module cache only.
		gomod, err = os.ReadFile(filepath.Join(lookupEnv(g.env, "GOMODCACHE"), "cache", "download", filepath.FromSlash(name)))
	}
	if err == nil {
		err = os.MkdirAll(dir, 0o777)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644)
	}
	if err == nil {
		_, err = g.run(ctx, project, dir, moduleMode, "list", "-m", "all")
	}
	if err != nil {
		logf("resolve: %s: the module graph of %s beyond what go install loads: %v", project, main, err)
	}
}

// onlyModuleAt returns the module that go install of arg must take as
// its main module, when that is certain before it runs: arg names a
// canonical version, and of the module paths arg's path could be in (the
// path and its prefixes, as the go command tries them), exactly one has
// a go.mod at that version; that go.mod is then in the recorder's store.
func onlyModuleAt(ctx context.Context, g *goRunner, arg module.Version) (module.Version, bool) {
	if g.rec == nil || module.CanonicalVersion(arg.Version) != arg.Version {
		return module.Version{}, false
	}
	var candidates []module.Version
	for p := arg.Path; ; p = path.Dir(p) {
		if module.CheckPath(p) == nil {
			candidates = append(candidates, module.Version{Path: p, Version: arg.Version})
		}
		if !strings.Contains(p, "/") {
			break
		}
	}
	found := make([]bool, len(candidates))
	var wg sync.WaitGroup
	for i, m := range candidates {
		wg.Go(func() {
			if ctx.Err() == nil {
				_, err := g.rec.ensure(m, modfiles.Mod)
				found[i] = err == nil
			}
		})
	}
	wg.Wait()
	var only module.Version
	n := 0
	for i, ok := range found {
		if ok {
			only, n = candidates[i], n+1
		}
	}
	return only, n == 1
}

// mainModule finds the build information in go install -n output (the
// modinfo line of the link step's import configuration) and returns its
// main module.
func mainModule(out []byte) (module.Version, bool) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		quoted, ok := strings.CutPrefix(sc.Text(), "modinfo ")
		if !ok {
			continue
		}
		s, err := strconv.Unquote(quoted)
		// The go command brackets the text with 16-byte markers.
		if err != nil || len(s) < 32 {
			continue
		}
		bi, err := debug.ParseBuildInfo(s[16 : len(s)-16])
		if err != nil || bi.Main.Path == "" || bi.Main.Version == "" {
			continue
		}
		return module.Version{Path: bi.Main.Path, Version: bi.Main.Version}, true
	}
	return module.Version{}, false
}

// isCommand reports whether path is a main package in the main module
// at dir. A path that is no package (a module without a root package)
// is not a command.
func isCommand(ctx context.Context, g *goRunner, project, dir, path string) (bool, error) {
	out, err := g.run(ctx, project, dir, moduleMode, "list", "-e", "-f", "{{if not .Error}}{{.Name}}{{end}}", path)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "main", nil
}

// lastLine returns the last line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
