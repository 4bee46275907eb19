package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/resolve"
)

// sumdbConfig is the checksum database the exporting user's go command
// would consult, and which modules it covers.
type sumdbConfig struct {
	off      bool
	name     string
	key      string
	url      string   // explicit base URL from GOSUMDB, if any
	noSumDB  string   // GONOSUMDB, falling back to GOPRIVATE
	upstream []string // proxies that may serve /sumdb/<name>/
}

// readSumDBConfig asks the go command for the user's settings.
func readSumDBConfig(ctx context.Context, extraEnv []string, upstream string) (*sumdbConfig, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "-json", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOPROXY")
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Env = append(cmd.Env, "GOTOOLCHAIN=local") // never a toolchain download for the directory we run in
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	var env map[string]string
	if err := json.Unmarshal(out, &env); err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	cfg := &sumdbConfig{noSumDB: env["GONOSUMDB"]}
	if cfg.noSumDB == "" {
		cfg.noSumDB = env["GOPRIVATE"]
	}
	proxies := upstream
	if proxies == "" {
		proxies = env["GOPROXY"]
	}
	for _, p := range strings.FieldsFunc(proxies, func(r rune) bool { return r == ',' || r == '|' }) {
		if p != "direct" && p != "off" && strings.HasPrefix(p, "http") {
			cfg.upstream = append(cfg.upstream, strings.TrimSuffix(p, "/"))
		}
	}
	v := strings.TrimSpace(env["GOSUMDB"])
	if v == "" {
		v = "sum.golang.org"
	}
	if v == "off" {
		cfg.off = true
		return cfg, nil
	}
	f := strings.Fields(v)
	if len(f) > 2 {
		return nil, fmt.Errorf("GOSUMDB=%q: want NAME, NAME+KEY or \"NAME+KEY URL\"", v)
	}
	if len(f) == 2 {
		cfg.url = strings.TrimSuffix(f[1], "/")
	}
	if strings.Contains(f[0], "+") {
		cfg.key = f[0]
		cfg.name, _, _ = strings.Cut(f[0], "+")
	} else {
		cfg.name = f[0]
		cfg.key = checksumdb.KnownKeys[cfg.name]
		if cfg.key == "" {
			return nil, fmt.Errorf("GOSUMDB=%q: unknown checksum database; give its key as GOSUMDB=\"NAME+KEY [URL]\"", v)
		}
	}
	return cfg, nil
}

// covers reports whether the database covers module path p.
func (c *sumdbConfig) covers(p string) bool {
	return !c.off && !module.MatchPrefixPatterns(c.noSumDB, p)
}

// fetcher returns how to GET database files: through the first upstream
// proxy that supports the database, else from its own URL.
func (c *sumdbConfig) fetcher(ctx context.Context, client *http.Client) (func(context.Context, string) ([]byte, error), string, error) {
	base := c.url
	if base == "" {
		for _, p := range c.upstream {
			if _, err := get(ctx, client, p+"/sumdb/"+c.name+"/supported"); err == nil {
				base = p + "/sumdb/" + c.name
				break
			}
		}
	}
	if base == "" {
		base = "https://" + c.name
	}
	return func(ctx context.Context, path string) ([]byte, error) {
		return get(ctx, client, base+"/"+path)
	}, base, nil
}

// get fetches a URL, retrying server errors and timeouts with backoff.
func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	var lastErr error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		switch {
		case err != nil:
			lastErr = err
		case resp.StatusCode == 200:
			return data, nil
		case resp.StatusCode >= 500 || resp.StatusCode == 429:
			lastErr = fmt.Errorf("GET %s: %s", url, resp.Status)
		default:
			return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(data)))
		}
	}
	return nil, lastErr
}

// captureSumDB adds the checksum-database proofs of the bundled module
// versions to the manifest, their content to made.
func captureSumDB(ctx context.Context, src *sumdbSource, opts Options, m *bundle.Manifest, made *spool) error {
	cfg := src.cfg
	if cfg.off {
		return nil
	}
	info := &bundle.SumDBInfo{Name: cfg.name, Key: cfg.key}
	var hashes []checksumdb.ModuleHashes
	for _, mod := range m.Modules {
		v := mod.ModuleVersion()
		if !cfg.covers(v.Path) {
			info.NotCovered = append(info.NotCovered, v.String())
			continue
		}
		hashes = append(hashes, sumdbHashes(mod))
	}
	if len(hashes) == 0 {
		return nil
	}
	found, err := src.find()
	if err != nil {
		return err
	}
	base := found.base
	var old [][]byte
	if opts.Since != nil {
		for _, h := range opts.Since.SumDBHeads[cfg.name] {
			old = append(old, []byte(h))
		}
	}
	co := checksumdb.CaptureOptions{Name: cfg.name, VerifierKey: cfg.key, Fetch: src.pf.Fetch, Modules: hashes, OldHeads: old, Cache: src.cache}
	proof, err := checksumdb.Capture(ctx, co)
	if err != nil && co.Cache != nil {
		// What the cache holds is checked like what is fetched; a cache
		// spoiled on disk must not pass for the database's fault.
		if opts.Logf != nil {
			opts.Logf("checksum database %s: the proof through the cache in the work dir failed (%v); fetching everything again", cfg.name, err)
		}
		co.Cache = nil
		proof, err = checksumdb.Capture(ctx, co)
	}
	if err != nil {
		if errors.Is(err, checksumdb.ErrSecurity) {
			return &SumDBDisagreesError{SumDB: cfg.name, URL: base, Err: err}
		}
		return fmt.Errorf("checksum database %s (%s): %w", cfg.name, base, err)
	}
	return addProof(m, info, proof, made)
}

// sumdbSource is how an export reaches its checksum database: through
// the first upstream proxy that supports it, else its own URL (found
// once, on first use), with the work dir's cache of the files that never
// change, and with the lookups (and full tiles) of the module versions
// resolution meets fetched while it goes on (checksumdb.Prefetcher), so
// that the capture after it finds most of them at hand. On the pool of
// bench/pool.sh the capture took 3.0 s after resolution.
type sumdbSource struct {
	find  func() (sumdbFetcher, error)
	cache checksumdb.Cache       // nil: none
	pf    *checksumdb.Prefetcher // nil when the database is off
	since *inventory.Inventory   // versions the other side holds are not prefetched
	cfg   *sumdbConfig
}

type sumdbFetcher struct {
	fetch func(context.Context, string) ([]byte, error)
	base  string
}

func newSumDBSource(ctx context.Context, cfg *sumdbConfig, opts Options) *sumdbSource {
	s := &sumdbSource{cfg: cfg, since: opts.Since}
	if cfg.off {
		return s
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	s.find = sync.OnceValues(func() (sumdbFetcher, error) {
		fetch, base, err := cfg.fetcher(ctx, client)
		return sumdbFetcher{fetch, base}, err
	})
	if opts.WorkDir != "" && filepath.IsLocal(cfg.name) {
		s.cache = dirCache(filepath.Join(opts.WorkDir, "sumdb", cfg.name))
	}
	s.pf = checksumdb.NewPrefetcher(ctx, func(ctx context.Context, p string) ([]byte, error) {
		found, err := s.find()
		if err != nil {
			return nil, err
		}
		return found.fetch(ctx, p)
	}, s.cache, 16)
	return s
}

// seen is resolve.Options.Seen: the prefetch of a version the database
// covers starts, unless the other side holds it with its proof.
func (s *sumdbSource) seen(v module.Version) {
	if s.pf == nil || !s.cfg.covers(v.Path) {
		return
	}
	if s.since != nil {
		if _, held := s.since.Lookup(v); held && !s.since.IsUnproven(v) {
			return
		}
	}
	s.pf.Add(v)
}

// goFiles returns what resolution's go commands get the checksum
// database's files that never change through (resolve.Options.SumDBFiles):
// the work dir's cache of every database, then, for the database the
// export proves with, one fetch shared with the prefetch, which fetches
// the same lookups and tiles for the capture; nil when there is neither.
func (s *sumdbSource) goFiles(workDir string) resolve.SumDBFiles {
	g := goSumDBFiles{pf: s.pf, name: s.cfg.name}
	if workDir != "" {
		g.dir = dirCache(filepath.Join(workDir, "sumdb"))
	}
	if g.dir == "" && g.pf == nil {
		return nil
	}
	return g
}

type goSumDBFiles struct {
	dir  dirCache               // WORKDIR/sumdb; "" without a work dir
	pf   *checksumdb.Prefetcher // nil when the database is off
	name string                 // the database pf fetches from
}

func (g goSumDBFiles) Get(key string, fetch func() ([]byte, error)) ([]byte, error) {
	if g.dir != "" {
		if data, ok := g.dir.Get(key); ok {
			return data, nil
		}
	}
	if db, p, _ := strings.Cut(key, "/"); g.pf != nil && db == g.name {
		upstream := fetch
		fetch = func() ([]byte, error) { return g.pf.Share(p, upstream) }
	}
	data, err := fetch()
	if err == nil && g.dir != "" {
		g.dir.Put(key, data)
	}
	return data, err
}

// close stops the prefetch.
func (s *sumdbSource) close() {
	if s.pf != nil {
		s.pf.Close()
	}
}

// addProof adds a checksum-database proof to the manifest (as m.SumDB,
// with info) and its files to made.
func addProof(m *bundle.Manifest, info *bundle.SumDBInfo, proof *checksumdb.Proof, made *spool) error {
	info.TreeHead = fmt.Sprintf("%d %s", proof.Head.N, proof.Head.Hash)
	m.SumDB = info
	for _, p := range proof.Paths() {
		name := "sumdb/" + info.Name + "/" + p
		bf, err := made.add(name, proof.Files[p])
		if err != nil {
			return err
		}
		m.Files = append(m.Files, bf)
	}
	return nil
}

// toolchainPath is the module the go command downloads Go toolchains as.
const toolchainPath = resolve.ToolchainModule

// sumdbHashes returns what the database records for a bundled module:
// toolchain modules have a zip line only.
func sumdbHashes(mod bundle.Module) checksumdb.ModuleHashes {
	h := checksumdb.ModuleHashes{Version: mod.ModuleVersion(), ZipHash: mod.ZipHash, ModHash: mod.ModHash}
	if mod.Path == toolchainPath {
		h.ModHash = ""
	}
	return h
}
