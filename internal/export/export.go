// Package export makes a bundle: it resolves what a set of projects and
// module versions needs (package resolve drives the real go command),
// leaves out what the other side already has (an inventory), hashes every
// file, signs the manifest and writes the bundle file atomically.
package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/resolve"
	"github.com/modferry/modferry/internal/safefile"
	"github.com/modferry/modferry/internal/sbom"
	"github.com/modferry/modferry/internal/store"
)

// Options configure Export.
type Options struct {
	Projects []string         // module roots or go.work roots
	Modules  []module.Version // module@version arguments (queries allowed)
	Upstream string           // GOPROXY list; "" means the user's go env GOPROXY
	GoEnv    []string         // extra environment for the go command
	// WorkDir caches resolved files between exports; "" means a
	// temporary directory removed afterwards.
	WorkDir string
	// Since leaves out module versions the other side holds; SinceDigest
	// is recorded in the manifest as the base.
	Since       *inventory.Inventory
	SinceDigest string
	// Sign returns the signatures of the manifest; nil makes an unsigned
	// bundle.
	Sign        func(manifest []byte) (bundle.Signatures, error)
	Output      string
	ToolVersion string
	// Progress receives resolution events and hashing progress.
	Progress func(resolve.Event)
	Logf     func(format string, args ...any)
	// Toolchains are Go toolchains to carry. Each project is resolved
	// with the toolchain it selects (as GOTOOLCHAIN=auto does), which is
	// carried too unless NoAutoToolchains.
	Toolchains       []Toolchain
	NoAutoToolchains bool
	// Level is the bundle's compression level.
	Level bundle.Level
	// VulnDB adds the Go vulnerability database, converted from the
	// module VulnDBModule (zero: golang.org/x/vulndb at its highest
	// version) fetched from the upstream proxy.
	VulnDB       bool
	VulnDBModule module.Version
	// FromStore, if set, bundles what this store holds (what a
	// fill-through proxy fetched, see package fillthrough) instead of
	// resolving projects: every module version, with the
	// checksum-database proofs the store keeps (see exportStore).
	FromStore store.Store
}

// Summary reports an export.
type Summary struct {
	Output       string `json:"output"`
	Modules      int    `json:"modules"`
	Zips         int    `json:"zips"`
	Files        int    `json:"files"`
	Bytes        int64  `json:"bytes"`        // bundle file size
	ContentBytes int64  `json:"contentBytes"` // sum of member sizes
	LeftOut      int    `json:"leftOut"`      // module versions the inventory has
	// Reproven counts the module versions the inventory has without a
	// checksum-database lookup, carried again for their proofs.
	Reproven      int           `json:"reproven,omitempty"`
	Duration      time.Duration `json:"-"`
	Seconds       float64       `json:"durationSeconds"` // Duration, for JSON
	Signed        bool          `json:"signed"`
	BaseInventory string        `json:"baseInventory,omitempty"`
	ResolvedQuery []string      `json:"resolved"`   // [] when none
	Toolchains    []string      `json:"toolchains"` // "go1.27.0.linux-amd64"; [] when none
	// VulnDB describes the vulnerability database bundled, if any.
	VulnDB *bundle.VulnDBInfo `json:"vulndb,omitempty"`
	// Phases says where the time went, in seconds per phase: resolve
	// (the go command's runs and the downloads they make), toolchains,
	// hash (h1: of every zip and go.mod), sumdb (the proofs), vulndb,
	// sbom, and write (compression, signing, the file).
	Phases map[string]float64 `json:"phases,omitempty"`
}

// phaseClock times the phases of an export for Summary.Phases.
type phaseClock struct {
	last   time.Time
	phases map[string]float64
}

func newPhaseClock() *phaseClock {
	return &phaseClock{last: time.Now(), phases: map[string]float64{}}
}

// done ends the phase called name: its time is the time since the last one ended.
func (c *phaseClock) done(name string) {
	now := time.Now()
	c.phases[name] += now.Sub(c.last).Seconds()
	c.last = now
}

// versionFiles gathers the files of one module version.
type versionFiles struct {
	v     module.Version
	files map[modfiles.Kind]resolve.File
	mod   bundle.Module
}

// Export resolves, hashes, signs and writes the bundle.
func Export(ctx context.Context, opts Options) (*Summary, error) {
	start := time.Now()
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.FromStore != nil {
		return exportStore(ctx, opts, start)
	}
	workDir := opts.WorkDir
	if workDir == "" {
		d, err := os.MkdirTemp(ScratchDir(), "modferry-export-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	clock := newPhaseClock()
	go sbom.WarmLicenses() // overlaps resolution, which waits on the network
	// The user's GOPROXY list and checksum-database settings, read once.
	cfg, err := readSumDBConfig(ctx, opts.GoEnv, opts.Upstream)
	if err != nil {
		return nil, err
	}
	src := newSumDBSource(ctx, cfg, opts)
	defer src.close()
	// Resolution's scratch is removed while the export goes on.
	var cleanup sync.WaitGroup
	defer cleanup.Wait()
	res, err := resolveAll(ctx, opts, workDir, src, cleanup.Go)
	if err != nil {
		return nil, err
	}
	clock.done("resolve")
	toolchains, err := addToolchains(ctx, opts, res, cfg.upstream, workDir)
	if err != nil {
		return nil, err
	}
	clock.done("toolchains")
	order := byVersion(res.Files)
	if err := hashVersions(ctx, order, opts.Progress); err != nil {
		return nil, err
	}
	clock.done("hash")

	sum := &Summary{Output: opts.Output, Signed: opts.Sign != nil, BaseInventory: opts.SinceDigest,
		Toolchains: append([]string{}, toolchains...), ResolvedQuery: []string{}}
	m := newManifest(opts, res, sum)
	sources := map[string]string{} // member path -> local file
	if err := addModules(m, order, opts.Since, cfg, sum, sources); err != nil {
		return nil, err
	}
	made, err := newSpool(workDir, sources)
	if err != nil {
		return nil, err
	}
	defer made.remove()
	if err := captureSumDB(ctx, src, opts, m, made); err != nil {
		return nil, err
	}
	clock.done("sumdb")
	if opts.VulnDB {
		if err := addVulnDB(ctx, cfg, opts, workDir, m, made); err != nil {
			return nil, err
		}
		sum.VulnDB = m.VulnDB
		clock.done("vulndb")
	}
	if err := addSBOMs(m, opts, res, sources, made); err != nil {
		return nil, err
	}
	clock.done("sbom")
	sum.Modules = len(m.Modules)
	sum.Files = len(m.Files)

	if sum.Bytes, err = writeBundle(ctx, opts, m, sources); err != nil {
		return nil, err
	}
	clock.done("write")
	sum.Phases = clock.phases
	sum.Duration = time.Since(start)
	sum.Seconds = sum.Duration.Seconds()
	return sum, nil
}

// check reports options that leave nothing to do or nowhere to write.
func (opts *Options) check() error {
	if opts.Output == "" {
		return errors.New("export: no output file")
	}
	if opts.FromStore != nil {
		if len(opts.Projects)+len(opts.Modules)+len(opts.Toolchains) > 0 || opts.VulnDB {
			return errors.New("export: a bundle from a store carries what the store holds: give no projects, modules, toolchains or vulnerability database with it")
		}
		return nil
	}
	if len(opts.Projects) == 0 && len(opts.Modules) == 0 && len(opts.Toolchains) == 0 && !opts.VulnDB {
		return errors.New("export: nothing to export: give project directories, module@version arguments or toolchains")
	}
	return nil
}

// resolveAll resolves what the projects and modules of opts need; an
// empty result when there are none (toolchains or the vulnerability
// database only).
func resolveAll(ctx context.Context, opts Options, workDir string, src *sumdbSource, cleanup func(func())) (*resolve.Result, error) {
	if len(opts.Projects)+len(opts.Modules) == 0 {
		return &resolve.Result{}, nil
	}
	return resolve.Resolve(ctx, resolve.Options{
		Projects: opts.Projects,
		Modules:  opts.Modules,
		Upstream: opts.Upstream,
		GoEnv:    opts.GoEnv,
		WorkDir:  workDir,
		RunDir:   runDir(opts.WorkDir),
		Progress: opts.Progress,
		Seen:     src.seen,
		Cleanup:  cleanup,
		// The go commands' lookups and full tiles: from the cache the
		// proofs' capture reads, fetched once for both.
		SumDBFiles: src.goFiles(opts.WorkDir),
		Logf:       opts.Logf,
	})
}

// byVersion groups the resolved files by module version, in the order
// each version first appears.
func byVersion(files []resolve.File) []*versionFiles {
	index := map[module.Version]*versionFiles{}
	var order []*versionFiles
	for _, f := range files {
		vf := index[f.Module]
		if vf == nil {
			vf = &versionFiles{v: f.Module, files: map[modfiles.Kind]resolve.File{}}
			index[f.Module] = vf
			order = append(order, vf)
		}
		vf.files[f.Kind] = f
	}
	return order
}

// hashVersions hashes every module version in parallel (zip hashes are
// the CPU-heavy part), reporting progress.
func hashVersions(ctx context.Context, order []*versionFiles, progress func(resolve.Event)) error {
	var done sync.Mutex
	hashed := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, vf := range order {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			if err := hashVersion(vf); err != nil {
				return err
			}
			done.Lock()
			hashed++
			if progress != nil {
				progress(resolve.Event{Stage: "hashing", Files: hashed, Total: len(order)})
			}
			done.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// newManifest starts the manifest: its header and the projects and
// module queries exported, which it also records in sum.
func newManifest(opts Options, res *resolve.Result, sum *Summary) *bundle.Manifest {
	m := &bundle.Manifest{
		FormatVersion: bundle.FormatVersion,
		Created:       time.Now().UTC().Truncate(time.Second),
		ToolVersion:   opts.ToolVersion,
		BaseInventory: opts.SinceDigest,
	}
	for _, p := range res.Projects {
		m.Projects = append(m.Projects, bundle.Project{Path: p.Path, VCSRevision: p.VCSRevision, GoSumSHA256: p.GoSumSHA256})
	}
	for _, v := range res.Modules {
		m.Projects = append(m.Projects, bundle.Project{Path: v.String()})
		sum.ResolvedQuery = append(sum.ResolvedQuery, v.String())
	}
	return m
}

// addModules adds the hashed module versions the other side lacks (see
// heldBy) to the manifest, with their files, whose local copies it
// records in sources.
func addModules(m *bundle.Manifest, order []*versionFiles, since *inventory.Inventory, cfg *sumdbConfig, sum *Summary, sources map[string]string) error {
	for _, vf := range order {
		held, err := heldBy(since, vf.mod)
		if err != nil {
			return err
		}
		// Held without a checksum-database lookup that this export's
		// database covers: carried again, for its proof (the import
		// finds the files present and adds the lookup).
		if held && cfg != nil && !cfg.off && cfg.covers(vf.v.Path) && since.IsUnproven(vf.mod.ModuleVersion()) {
			held = false
			sum.Reproven++
		}
		if held {
			sum.LeftOut++
			continue
		}
		m.Modules = append(m.Modules, vf.mod)
		if vf.mod.ZipHash != "" {
			sum.Zips++
		}
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			f, ok := vf.files[k]
			if !ok {
				continue
			}
			member, err := bundle.DownloadPath(vf.v, k)
			if err != nil {
				return err
			}
			bf, err := bundle.HashFile(member, f.Path)
			if err != nil {
				return err
			}
			m.Files = append(m.Files, bf)
			sources[member] = f.Path
			sum.ContentBytes += bf.Size
		}
	}
	return nil
}

// heldBy reports whether the other side's inventory (nil: none) holds
// mod as fully as the upstream serves it, so that it is left out. The
// same version with other hashes is an *InventoryMismatchError.
func heldBy(since *inventory.Inventory, mod bundle.Module) (bool, error) {
	if since == nil {
		return false, nil
	}
	have, ok := since.Lookup(mod.ModuleVersion())
	if !ok {
		return false, nil
	}
	if have.ModHash != mod.ModHash || (have.ZipHash != "" && mod.ZipHash != "" && have.ZipHash != mod.ZipHash) {
		return false, &InventoryMismatchError{Upstream: mod, Inventory: have}
	}
	return have.ZipHash != "" || mod.ZipHash == "", nil
}

// spool keeps the members an export makes itself (checksum-database
// proofs, SBOMs, the vulnerability database) in files until the bundle is
// written, instead of in memory: they grow with the module graph (the
// proofs of 2,500 module versions hold ~20 MB of tiles), and the bundle
// writer's 64 MiB compression window is live beside them.
type spool struct {
	dir     string
	n       int
	sources map[string]string // member path -> local file, shared with the module files
}

// newSpool makes a spool in a fresh directory under workDir that records
// the files it writes in sources.
func newSpool(workDir string, sources map[string]string) (*spool, error) {
	dir, err := os.MkdirTemp(workDir, "members-")
	if err != nil {
		return nil, err
	}
	return &spool{dir: dir, sources: sources}, nil
}

// add writes data, the content of member name, to a file and returns its
// manifest entry.
func (s *spool) add(name string, data []byte) (bundle.File, error) {
	bf, err := bundle.HashReader(name, bytes.NewReader(data))
	if err != nil {
		return bundle.File{}, err
	}
	s.n++
	p := filepath.Join(s.dir, strconv.Itoa(s.n))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return bundle.File{}, err
	}
	s.sources[name] = p
	return bf, nil
}

func (s *spool) remove() { os.RemoveAll(s.dir) }

// writeBundle signs the manifest and writes the bundle to opts.Output
// atomically, reading each member from its local file in sources. It
// returns the bundle's size.
func writeBundle(ctx context.Context, opts Options, m *bundle.Manifest, sources map[string]string) (int64, error) {
	manifest, err := m.Marshal()
	if err != nil {
		return 0, err
	}
	var sigs bundle.Signatures
	if opts.Sign != nil {
		if sigs, err = opts.Sign(manifest); err != nil {
			return 0, fmt.Errorf("signing the manifest: %w", err)
		}
	}
	return writeAtomic(ctx, opts.Output, func(w io.Writer) error {
		return bundle.WriteLevel(ctx, w, m, sigs, func(name string) (io.ReadCloser, error) {
			p, ok := sources[name]
			if !ok {
				return nil, fmt.Errorf("no source for %s", name)
			}
			return os.Open(p)
		}, opts.Level)
	})
}

// ScratchDir returns where an export keeps its throw-away files (the
// private module cache the go command extracts modules into, and the
// fetched files): $MODFERRY_SCRATCH if set; else /dev/shm when it is a
// memory filesystem with at least 8 GiB free, because extracting hundreds
// of megabytes of sources costs far more in filesystem metadata on disk
// than in memory; else the system temporary directory.
func ScratchDir() string {
	if d := fastScratch(); d != "" {
		return d
	}
	return os.TempDir()
}

// fastScratch is $MODFERRY_SCRATCH if set, else /dev/shm when it is a
// memory filesystem with at least 8 GiB free, else "".
func fastScratch() string {
	if d := os.Getenv("MODFERRY_SCRATCH"); d != "" {
		return d
	}
	if shm, ok := memoryScratch(); ok {
		return shm
	}
	return ""
}

// runDir is where resolution keeps its throw-away files (resolve.Options.
// RunDir). With a work directory of the user's (--work-dir, which keeps
// the fetched files between exports), the go command would otherwise
// extract every module it loads into a private module cache under it, on
// disk, at every export: they go to the fast scratch directory when there
// is one (see ScratchDir), else stay in the work directory, which the
// user chose for its room. Without one, the work directory is already
// scratch: "".
func runDir(workDir string) string {
	if workDir == "" {
		return ""
	}
	return fastScratch()
}

// hashVersion checks the zip against the module zip rules and computes
// the h1: hashes of the zip and the go.mod.
func hashVersion(vf *versionFiles) error {
	mf, ok := vf.files[modfiles.Mod]
	if !ok {
		return module.VersionError(vf.v, errors.New("resolved without a go.mod"))
	}
	mod, err := os.ReadFile(mf.Path)
	if err != nil {
		return err
	}
	vf.mod = bundle.Module{Path: vf.v.Path, Version: vf.v.Version, ModHash: modfiles.HashMod(mod)}
	if zf, ok := vf.files[modfiles.Zip]; ok {
		if _, err := modzip.CheckZip(vf.v, zf.Path); err != nil {
			return module.VersionError(vf.v, fmt.Errorf("the upstream zip breaks the module zip rules: %w", err))
		}
		// The go command, or resolve's own zip step, hashed the zip when
		// it was downloaded; hashing again would decompress every zip once
		// more.
		h := zf.ZipHash
		if h == "" {
			if h, err = modfiles.HashZip(zf.Path); err != nil {
				return module.VersionError(vf.v, err)
			}
		}
		vf.mod.ZipHash = h
	}
	return nil
}

// writeAtomic writes the bundle file name through write, atomically
// (package safefile), and returns its size.
func writeAtomic(ctx context.Context, name string, write func(io.Writer) error) (int64, error) {
	f, err := safefile.Create(name, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cw := &countWriter{w: f}
	if err := write(cw); err != nil {
		return 0, err
	}
	return cw.n, f.Commit()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ParseModuleArg parses a module@version (or module@query) argument.
func ParseModuleArg(arg string) (module.Version, error) {
	path, version, ok := strings.Cut(arg, "@")
	if !ok || path == "" || version == "" {
		return module.Version{}, fmt.Errorf("%q: want MODULE@VERSION", arg)
	}
	if err := module.CheckPath(path); err != nil {
		return module.Version{}, err
	}
	return module.Version{Path: path, Version: version}, nil
}
