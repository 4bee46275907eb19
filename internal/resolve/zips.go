package resolve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/modfiles"
)

// zipFetcher does the part of go mod download all that the go command's
// package loading leaves: it fetches the zip of every module of a build
// list that no go command downloaded, through the recorder, without
// extracting it.
//
// go mod download all extracts every zip it fetches into the module cache
// and hashes it there, while only the modules that provide packages need
// extracting. On bench/k8sproject that was 155 zips extracted where 87
// were needed, 1.8 of 8 CPU-seconds of the go command
// (bench/results/exportnet.md). The export still needs every zip of the
// build list (an offline go mod download all or go mod verify asks for
// them), and checks each as the go command would have: its h1: hash
// against the project's go.sum here, and against the checksum database
// when the export captures the proofs (the capture refuses a record that
// does not hold the hash). Modules that the checksum database
// does not cover (GOSUMDB=off, GONOSUMDB, GOPRIVATE) and GONOPROXY modules
// are left to go mod download, which checks them against go.sum and
// fetches them as the user's settings say, as before; so is a module no
// proxy of the list serves (the go command then goes direct, if the list
// allows, and reports the failure in its own words).
type zipFetcher struct {
	rec     *recorder
	goCache string            // the go command's GOMODCACHE/cache/download
	goOnly  func(string) bool // module paths that only the go command fetches and checks
	hashing chan struct{}     // bounds the hashes at once to the cores: each holds buffers

	mu     sync.Mutex
	hashes map[module.Version]string // h1: of the zips fetched here
}

func newZipFetcher(rec *recorder, goCache, noProxy, noSumDB, sumDB string) *zipFetcher {
	return &zipFetcher{
		rec:     rec,
		goCache: goCache,
		goOnly: func(path string) bool {
			return sumDB == "off" ||
				(noProxy != "" && module.MatchPrefixPatterns(noProxy, path)) ||
				(noSumDB != "" && module.MatchPrefixPatterns(noSumDB, path))
		},
		hashing: make(chan struct{}, runtime.GOMAXPROCS(0)),
		hashes:  make(map[module.Version]string),
	}
}

// fetch makes sure that the zip of every module in the build lists was
// fetched and checked: by a go command already (its module cache holds the
// zip's .ziphash), by the recorder here, or, for what the go command alone
// may fetch, by go mod download run in dir for project. goSum holds the
// zip hashes of the project's go.sum files (see readGoSums).
func (z *zipFetcher) fetch(ctx context.Context, g *goRunner, project, dir string, m mode, goSum map[module.Version]string, lists ...[]module.Version) error {
	id := z.rec.newCommand(project, "(zips of the build list, fetched as go mod download all does, not extracted)", project+": fetching the build list's zips")
	cmd := z.rec.command(id)
	var (
		mu   sync.Mutex
		byGo []string
	)
	eg, egCtx := errgroup.WithContext(ctx)
	// Twice the recorder's fetch limit: downloads go on while fetched zips
	// wait for a core to be hashed on (z.hashing).
	eg.SetLimit(2 * cap(z.rec.sem))
	for _, mv := range dedup(slices.Concat(lists...)) {
		if z.goHas(mv) {
			continue
		}
		if z.goOnly(mv.Path) {
			byGo = append(byGo, mv.String())
			continue
		}
		eg.Go(func() error {
			if egCtx.Err() != nil {
				return egCtx.Err()
			}
			f, err := z.rec.ensure(mv, modfiles.Zip)
			if err != nil {
				mu.Lock()
				byGo = append(byGo, mv.String())
				mu.Unlock()
				return nil
			}
			z.hashing <- struct{}{}
			h, err := modfiles.HashZip(f.Path)
			<-z.hashing
			if err != nil {
				return fmt.Errorf("resolve %s: %w", project, module.VersionError(mv, fmt.Errorf("the upstream zip cannot be read: %w", err)))
			}
			if want, ok := goSum[mv]; ok && want != h {
				return fmt.Errorf("resolve %s: %w", project, module.VersionError(mv, fmt.Errorf(
					"checksum mismatch: the project's go.sum has %s, the upstream zip hashes to %s: "+
						"the upstream serves another zip than the project recorded (SECURITY ERROR)", want, h)))
			}
			z.rec.record(f, cmd)
			z.mu.Lock()
			z.hashes[mv] = h
			z.mu.Unlock()
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if len(byGo) == 0 {
		return nil
	}
	sort.Strings(byGo)
	_, err := g.run(ctx, project, dir, m, append([]string{"mod", "download"}, byGo...)...)
	return err
}

// prefetch starts fetching the zips of mods into the recorder's store in
// the background, so that the downloads overlap the go command's work on
// the packages; nothing is recorded or checked here (fetch does that, and
// a go command asking for a zip under way joins its fetch). Half the
// recorder's fetch limit is used, so that the go command's own requests
// find room. The returned func stops the prefetch and waits for the
// fetches under way.
func (z *zipFetcher) prefetch(mods []module.Version) (stop func()) {
	var (
		stopped atomic.Bool
		wg      sync.WaitGroup
		work    = make(chan module.Version)
	)
	for range max(1, cap(z.rec.sem)/2) {
		wg.Go(func() {
			for mv := range work {
				if !stopped.Load() {
					z.rec.ensure(mv, modfiles.Zip)
				}
			}
		})
	}
	go func() {
		defer close(work)
		for _, mv := range mods {
			if stopped.Load() {
				return
			}
			if !z.goOnly(mv.Path) && !z.goHas(mv) {
				work <- mv
			}
		}
	}()
	return func() {
		stopped.Store(true)
		wg.Wait()
	}
}

// goHas reports whether a go command downloaded and checked the zip of mv
// into its module cache: the go command writes the .ziphash after it
// checked the zip against go.sum and the checksum database.
func (z *zipFetcher) goHas(mv module.Version) bool {
	name, err := modfiles.ProxyPath(mv, modfiles.Zip)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(z.goCache, filepath.FromSlash(name)) + "hash")
	return err == nil
}

// hash returns the h1: hash of the zip of mv if it was fetched here.
func (z *zipFetcher) hash(mv module.Version) string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.hashes[mv]
}

// readGoSums returns the zip hashes ("path version h1:...", not the
// /go.mod lines) that the go.sum files name; a file that does not exist
// is skipped.
func readGoSums(files ...string) (map[module.Version]string, error) {
	out := make(map[module.Version]string)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || strings.HasSuffix(f[1], "/go.mod") || !strings.HasPrefix(f[2], "h1:") {
				continue
			}
			mv := module.Version{Path: f[0], Version: f[1]}
			if _, ok := out[mv]; !ok {
				out[mv] = f[2]
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}

// buildList runs go list -m -json all in dir and returns the build list:
// every module but the main ones, as replaced (nothing for a directory
// replacement).
func (g *goRunner) buildList(ctx context.Context, project, dir string, m mode) ([]module.Version, error) {
	out, err := g.run(ctx, project, dir, m, "list", "-m", "-json", "all")
	if err != nil {
		return nil, err
	}
	return parseBuildList(out)
}

// parseBuildList reads what go list -m -json all printed.
func parseBuildList(out []byte) ([]module.Version, error) {
	var vs []module.Version
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct {
			Path, Version string
			Main          bool
			Replace       *struct{ Path, Version string }
		}
		if err := dec.Decode(&m); err == io.EOF {
			return vs, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list -m -json all: %w", err)
		}
		v := module.Version{Path: m.Path, Version: m.Version}
		if m.Replace != nil {
			v = module.Version{Path: m.Replace.Path, Version: m.Replace.Version}
		}
		if !m.Main && v.Version != "" {
			vs = append(vs, v)
		}
	}
}
