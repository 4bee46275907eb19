package resolve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/digest"
	"github.com/modferry/modferry/internal/modfiles"
)

// SumDBFiles answers the go commands' requests for the checksum
// database's files that never change: lookups and full tiles, by
// NAME/path in the database. The go command checks every file it gets,
// whatever answered it.
type SumDBFiles interface {
	// Get returns the file at key, from what it holds or else from
	// fetch, which fetches it from the upstream proxy list.
	Get(key string, fetch func() ([]byte, error)) ([]byte, error)
}

// Options configures Resolve. The zero value of every field but WorkDir
// is usable.
type Options struct {
	// Projects are directories: module roots (with go.mod) or workspace
	// roots (with go.work). They are copied, never modified.
	Projects []string
	// Modules are module@version arguments. Versions may be queries such
	// as "latest" or "v1.2"; they are resolved with go get.
	Modules []module.Version
	// Upstream is the GOPROXY list to fetch from. Empty means the user's
	// go env GOPROXY.
	Upstream string
	// GoEnv is extra KEY=VALUE environment for the go command, such as
	// GOPRIVATE, GONOSUMDB, GOSUMDB or GOAUTH. GOPATH, GOMODCACHE,
	// GOCACHE, GOPROXY, GOFLAGS, GOTOOLCHAIN and GOWORK are set by Resolve
	// and ignored here.
	GoEnv []string
	// WorkDir holds the store of fetched files (WorkDir/download, in the
	// GOPROXY layout, usable as GOPROXY=file://WorkDir/download), the
	// build cache, and, during a call, the project copies and a private
	// module cache. It is reused across calls: files already stored are
	// not fetched again. Required.
	WorkDir string
	// RunDir is where a call keeps its throw-away files (the project
	// copies, and the private module cache the go command extracts every
	// module it loads into), in a directory of its own removed at the
	// end. Empty means WorkDir.
	RunDir string
	// Cleanup, if not nil, is handed the removal of the run directory
	// (the project copies and the private module cache: thousands of
	// files, 0.2-0.3 s for bench/k8sproject) as Resolve returns, so that
	// it runs while the caller goes on; the caller must let it finish.
	// Nil: Resolve removes the directory before it returns.
	Cleanup func(remove func())
	// SumDBFiles, if not nil, answers the go commands' requests for
	// checksum-database files that never change (the export's work dir
	// keeps them, and its prefetch for the proofs fetches the same ones).
	SumDBFiles SumDBFiles
	// Jobs bounds concurrent upstream fetches. Zero means 32.
	Jobs int
	// Progress, if not nil, receives progress events, one at a time.
	Progress func(Event)
	// Seen, if not nil, is called once for each module version as the
	// first of its files is recorded, while resolution goes on (export
	// starts the version's checksum-database lookup then). It is called
	// with the recorder's lock held, from any goroutine: it must not
	// block. Not every version seen ends up in Result.Files.
	Seen func(module.Version)
	// Logf, if not nil, receives diagnostic messages.
	Logf func(format string, args ...any)
	// HTTPClient is used for upstream requests. Nil means a client with a
	// 5-minute timeout per request.
	HTTPClient *http.Client
	// Retries is the number of retries of a transient upstream failure.
	// Zero means 4; negative means none.
	Retries int
}

// Resolve runs the go command over every project and module argument
// through a recording proxy, and returns every module file the go command
// (1.21 or newer) needs to do the same offline.
func Resolve(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	if opts.WorkDir == "" {
		return nil, errors.New("resolve: Options.WorkDir is required")
	}
	if len(opts.Projects) == 0 && len(opts.Modules) == 0 {
		return nil, errors.New("resolve: nothing to resolve: no projects and no modules")
	}
	workDir, err := filepath.Abs(opts.WorkDir)
	if err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ue, err := readGoEnv(ctx, opts.GoEnv)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	upstream := opts.Upstream
	if upstream == "" {
		upstream = ue.GOPROXY
	}
	list, err := parseProxyList(upstream)
	if err != nil {
		return nil, fmt.Errorf("resolve: GOPROXY %q: %w", upstream, err)
	}
	if len(list.Proxies) == 0 && list.Tail != "direct" {
		return nil, fmt.Errorf("resolve: GOPROXY %q names no proxy", upstream)
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	retries := opts.Retries
	switch {
	case retries == 0:
		retries = 4
	case retries < 0:
		retries = 0
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 32 // see procsEnv
	}

	if err := os.MkdirAll(workDir, 0o777); err != nil {
		return nil, err
	}
	runBase, runPattern := workDir, "run-"
	if opts.RunDir != "" {
		// A shared directory such as /dev/shm: a name that says whose.
		runBase, runPattern = opts.RunDir, "modferry-run-"
		if err := os.MkdirAll(runBase, 0o777); err != nil {
			return nil, err
		}
	}
	runDir, err := os.MkdirTemp(runBase, runPattern)
	if err != nil {
		return nil, err
	}
	defer func() {
		if opts.Cleanup != nil {
			opts.Cleanup(func() { removeAll(runDir) })
		} else {
			removeAll(runDir)
		}
	}()

	// GONOPROXY as the go command will see it.
	probeEnv := childEnv(ue, opts.GoEnv, nil)
	noProxy := lookupEnv(probeEnv, "GONOPROXY")
	if noProxy == "" {
		noProxy = lookupEnv(probeEnv, "GOPRIVATE")
	}

	f := &fetcher{list: list, client: client, retries: retries, backoff: 500 * time.Millisecond}
	rec := newRecorder(ctx, filepath.Join(workDir, "download"), f, jobs, noProxy, opts.Progress)
	rec.seen = opts.Seen
	rec.sumdb = opts.SumDBFiles
	rec.startCompletion(max(1, jobs/4))
	defer rec.stopCompletion()
	if err := rec.start(); err != nil {
		return nil, err
	}
	defer rec.close()

	// Each go command gets its own GOPROXY URL on the recorder (see
	// goRunner.run2), then the list's direct tail if it has one.
	proxyTail := ""
	if list.Tail == "direct" {
		sep := ","
		if list.TailAnyError {
			sep = "|"
		}
		proxyTail = sep + "direct"
	}
	gopath := filepath.Join(runDir, "gopath")
	own := []string{
		"GOPATH=" + gopath,
		"GOMODCACHE=" + filepath.Join(gopath, "pkg", "mod"),
		"GOCACHE=" + filepath.Join(workDir, "gocache"),
		"GOTOOLCHAIN=local",
	}
	own = append(own, procsEnv(probeEnv, jobs)...)
	noSumDB := lookupEnv(probeEnv, "GONOSUMDB")
	if noSumDB == "" {
		noSumDB = lookupEnv(probeEnv, "GOPRIVATE")
	}
	goCache := filepath.Join(gopath, "pkg", "mod", "cache", "download")
	zips := newZipFetcher(rec, goCache, noProxy, noSumDB, lookupEnv(probeEnv, "GOSUMDB"))
	g := &goRunner{rec: rec, proxyTail: proxyTail, local: ue.GOVERSION, zips: zips, env: childEnv(ue, opts.GoEnv, own)}

	// Projects resolve a few at once, like module arguments: one's go
	// command works on the CPU while another waits for downloads. They
	// share the recorder (one fetch per file) and the module cache (the
	// go command locks it), and each go command has its own GOPROXY URL
	// on the recorder, so every request is credited to its command.
	res := &Result{Projects: make([]ProjectInfo, len(opts.Projects))}
	eg, egCtx := errgroup.WithContext(ctx)
	eg.SetLimit(argJobs())
	for i, p := range opts.Projects {
		eg.Go(func() error {
			info, err := resolveProject(egCtx, g, p, filepath.Join(runDir, "p"+strconv.Itoa(i)))
			if err != nil {
				return err
			}
			res.Projects[i] = *info
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	if len(opts.Modules) > 0 {
		goVersion := strings.TrimPrefix(ue.GOVERSION, "go")
		if i := strings.IndexAny(goVersion, " -"); i >= 0 {
			goVersion = goVersion[:i]
		}
		res.Modules, err = resolveModules(ctx, g, opts.Modules, runDir, goVersion, logf)
		if err != nil {
			return nil, err
		}
	}

	rec.stopCompletion() // the go commands are done

	// Files the go command fetched itself (GONOPROXY modules, or modules
	// that every proxy lacked before "direct") are in the module cache only.
	if err := adoptDirect(rec, goCache, logf); err != nil {
		return nil, err
	}
	files, err := complete(ctx, g, rec, noProxy, runDir, logf)
	if err != nil {
		return nil, err
	}
	hashes := zipHashes(goCache)
	for i, f := range files {
		if f.Kind == modfiles.Zip {
			files[i].ZipHash = hashes[f.Module]
			if files[i].ZipHash == "" {
				files[i].ZipHash = zips.hash(f.Module)
			}
		}
	}
	res.Files = files
	rec.mu.Lock()
	for _, c := range rec.order {
		res.Requests = append(res.Requests, *c)
	}
	rec.mu.Unlock()
	logf("resolve: %d files for %d projects and %d modules in %v", len(files), len(opts.Projects), len(opts.Modules), time.Since(start).Round(time.Millisecond))
	return res, nil
}

// resolveProject copies one project and runs the go commands in the copy.
func resolveProject(ctx context.Context, g *goRunner, dir, copyDir string) (*ProjectInfo, error) {
	pc, err := copyProject(dir, copyDir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	info := &ProjectInfo{Path: pc.Orig, Workspace: pc.Workspace, VCSRevision: gitRevision(ctx, pc.Orig)}
	// The project's go commands run with the toolchain it selects.
	if g, info.GoVersion, err = switchToolchain(ctx, g, pc, copyDir+"-toolchain"); err != nil {
		return nil, err
	}
	sum := "go.sum"
	if pc.Workspace {
		sum = "go.work.sum"
	}
	if info.GoSumSHA256, err = goSumSHA256(filepath.Join(pc.Orig, sum)); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", pc.Orig, err)
	}
	run := func(dir string, m mode, args ...string) error {
		_, err := g.run(ctx, pc.Orig, dir, m, args...)
		return err
	}
	root := moduleMode
	var sums []string
	if pc.Workspace {
		root = workspaceMode
		sums = append(sums, filepath.Join(pc.Root, "go.work.sum"))
	}
	for _, md := range pc.Modules {
		sums = append(sums, filepath.Join(md, "go.sum"))
	}
	// The hashes the project recorded, before any go command adds to them.
	goSum, err := readGoSums(sums...)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", pc.Orig, err)
	}
	// What go mod download all fetches, in two parts: go list -m all
	// fetches the go.mod files of the graph (and gives the build list as
	// the project has it, before tidy, for its SBOM); the zips come after
	// the packages are loaded, so that only the modules that provide
	// packages are extracted (see zipFetcher).
	if info.BuildList, err = g.buildList(ctx, pc.Orig, pc.Root, root); err != nil {
		return nil, err
	}
	defer g.zips.prefetch(info.BuildList)()
	steps := []func() error{
		func() error {
			for _, md := range pc.Modules {
				if err := run(md, root, "list", "-deps", "-test", "./..."); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			// go mod tidy never runs in workspace mode: it tidies the one
			// module of its directory, alone. A workspace module that
			// imports an unpublished workspace module cannot be tidied
			// alone at all, so there tidy is best effort (-e).
			args := []string{"mod", "tidy"}
			if pc.Workspace {
				args = append(args, "-e")
			}
			for _, md := range pc.Modules {
				if err := run(md, moduleMode, args...); err != nil {
					return err
				}
			}
			return nil
		},
		// go mod verify asks for nothing that go mod download all and
		// go list -m all have not fetched (it re-hashes what is in the
		// module cache), so it is not run: on large graphs it re-reads
		// hundreds of megabytes.
	}
	before := readGoMods(pc.Modules)
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	// If tidy changed a go.mod, the tidied graph differs from the one the
	// project had, and an offline go mod tidy will need its files too.
	var tidied []module.Version
	if after := readGoMods(pc.Modules); after != before {
		if tidied, err = g.buildList(ctx, pc.Orig, pc.Root, root); err != nil {
			return nil, err
		}
	}
	if err := g.zips.fetch(ctx, g, pc.Orig, pc.Root, root, goSum, info.BuildList, tidied); err != nil {
		return nil, err
	}
	return info, nil
}

// readGoMods returns the go.mod files of the module directories, joined.
func readGoMods(dirs []string) string {
	var b strings.Builder
	for _, d := range dirs {
		data, _ := os.ReadFile(filepath.Join(d, "go.mod"))
		b.Write(data)
		b.WriteByte(0)
	}
	return b.String()
}

// gitRevision returns git rev-parse HEAD for dir, or "".
func gitRevision(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// adoptDirect copies into the store every module file of the module cache
// that did not come through the recorder.
func adoptDirect(rec *recorder, cacheDir string, logf func(string, ...any)) error {
	served := rec.files()
	err := filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == cacheDir {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == filepath.Join(cacheDir, "sumdb") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(cacheDir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if _, ok := served[name]; ok {
			return nil
		}
		rq, err := modfiles.ParseUpstreamRequest(name)
		if err != nil || rq.Op == modfiles.OpList || rq.Op == modfiles.OpLatest {
			return nil // list, .lock, .ziphash, .partial and such
		}
		f, err := rec.adopt(rq.Version, rq.Op.Kind(), p)
		if err != nil {
			return fmt.Errorf("resolve: adopting %s from the module cache: %w", name, err)
		}
		logf("resolve: %s came directly from its origin, not through a proxy", f)
		rec.record(f, nil)
		return nil
	})
	return err
}

// zipHashes reads the h1: hashes the go command recorded (.ziphash files)
// for the zips it downloaded into the module cache at cacheDir.
func zipHashes(cacheDir string) map[module.Version]string {
	out := map[module.Version]string{}
	filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p == filepath.Join(cacheDir, "sumdb") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".ziphash") {
			return nil
		}
		rel, err := filepath.Rel(cacheDir, strings.TrimSuffix(p, ".ziphash")+".zip")
		if err != nil {
			return nil
		}
		rq, err := modfiles.ParseUpstreamRequest(filepath.ToSlash(rel))
		if err != nil || rq.Op != modfiles.OpZip {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil {
			out[rq.Version] = strings.TrimSpace(string(data))
		}
		return nil
	})
	return out
}

// complete makes the recorded set robust for other go versions: every
// version with a .mod also gets its .info, every .zip its .info and .mod,
// and every .info its .mod (a version the go command only stat'ed, such
// as the newest entry of a version list, which may be a pseudo-version).
// A version whose .mod no proxy serves is left out (see dropStatOnly). It
// returns the final, sorted file list.
func complete(ctx context.Context, g *goRunner, rec *recorder, noProxy, runDir string, logf func(string, ...any)) ([]File, error) {
	have := rec.files()
	type need struct {
		m        module.Version
		k        modfiles.Kind
		statOnly bool // the .mod of a version only stat'ed: best effort
	}
	var needs []need
	for _, f := range have {
		for _, k := range completeFor[f.Kind] {
			name, err := modfiles.ProxyPath(f.Module, k)
			if err != nil {
				return nil, err
			}
			if _, ok := have[name]; !ok {
				have[name] = File{} // once
				needs = append(needs, need{f.Module, k, f.Kind == modfiles.Info})
			}
		}
	}
	completion := rec.command(rec.newCommand("", "(completion: .info for every .mod, .mod for every .info, .info and .mod for every .zip)", "completing .info and .mod files"))

	var direct []module.Version
	errc := make(chan error, len(needs))
	for _, n := range needs {
		if noProxy != "" && module.MatchPrefixPatterns(noProxy, n.m.Path) {
			if n.statOnly {
				// Not worth a direct download of the whole version.
				errc <- nil
				continue
			}
			direct = append(direct, n.m)
			errc <- nil
			continue
		}
		go func() {
			f, err := rec.ensure(n.m, n.k)
			if err == nil {
				rec.record(f, completion)
			} else if errors.Is(err, fs.ErrNotExist) || n.statOnly {
				// Some proxies lack .info for versions known only through
				// go.mod files; the go command then never asks for it.
				// A version only stat'ed is left out without its go.mod.
				logf("resolve: %s.%s not available upstream: %v", n.m, n.k, err)
				err = nil
			}
			errc <- err
		}()
	}
	var errs []error
	for range needs {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("resolve: completing module files: %w", err)
	}
	if len(direct) > 0 {
		// go mod download writes .info, .mod and .zip of a version into the
		// module cache, fetching directly as the go command does.
		dir := filepath.Join(runDir, "direct")
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, err
		}
		args := []string{"mod", "download", "-json"}
		for _, m := range dedup(direct) {
			args = append(args, m.String())
		}
		if _, err := g.run(ctx, "GONOPROXY modules", dir, moduleMode, args...); err != nil {
			return nil, err
		}
		if err := adoptDirect(rec, filepath.Join(lookupEnv(g.env, "GOMODCACHE"), "cache", "download"), logf); err != nil {
			return nil, err
		}
	}

	files := dropStatOnly(rec.files(), logf)
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.Module.Path != b.Module.Path {
			return a.Module.Path < b.Module.Path
		}
		if a.Module.Version != b.Module.Version {
			return semver.Compare(a.Module.Version, b.Module.Version) < 0
		}
		return a.Kind < b.Kind
	})
	return files, nil
}

func dedup(ms []module.Version) []module.Version {
	seen := map[module.Version]bool{}
	var out []module.Version
	for _, m := range ms {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// removeAll removes a tree the go command may have made read-only.
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil && runtime.GOOS != "windows" {
		_ = err
	}
}

// dropStatOnly returns the files, leaving out the .info of every version that
// has no .mod: a version the go command only stat'ed and whose go.mod
// could not be completed. Every bundled version carries its go.mod (the
// bundle records its hash); an offline go command never asks for such a
// version, because a store lists only versions with zips and never
// pseudo-versions.
func dropStatOnly(served map[string]File, logf func(string, ...any)) []File {
	hasMod := map[module.Version]bool{}
	for _, f := range served {
		if f.Kind == modfiles.Mod {
			hasMod[f.Module] = true
		}
	}
	var files []File
	for _, f := range served {
		if f.Kind == modfiles.Info && !hasMod[f.Module] {
			logf("resolve: %s was only stat'ed and has no go.mod upstream; left out", f.Module)
			continue
		}
		files = append(files, f)
	}
	return files
}

// goSumSHA256 returns the hex SHA-256 of a go.sum file, or "" if there is
// none.
func goSumSHA256(name string) (string, error) {
	d, err := digest.File(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return d, err
}
