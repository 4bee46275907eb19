// Package importer adds signed bundles to a module store, all or nothing.
//
// Import hashes the bundle file (its digest names it in the import
// history), streams it through bundle.Read into a local staging directory
// (beside the store for a store on the local filesystem, see ScratchSpace)
// — every signature, size, SHA-256, zip-rule and h1: check passes before
// anything else happens — then checks the bundle against the store (a
// module version the store holds with different content stops the import,
// naming the module, before anything is written), and commits: for each
// module version the .mod, .zip and .ziphash first and the .info last,
// each atomically, so a version becomes visible only whole;
// then the list files; then a bundled vulnerability database, if it is
// newer than the store's (package vulndb switches copies atomically and
// never goes back); then the bundle's SBOMs, kept as
// "bundles/<digest>/sbom.cdx.json" and "bundles/<digest>/sbom.spdx.json"
// (see SBOMName); then the import record "bundles/<digest>.json",
// which marks the bundle imported. A crash at any point leaves every
// visible file complete and correct; importing the bundle again finishes
// the job. Importing a bundle already recorded is a no-op.
//
// Any store.Store will do. A store.Stager (Disk) takes the staged files
// by rename, with one syncfs before and one after; any other store gets
// each file through Put, in the same order. A store.Locker holds the
// import lock across processes (store.LockImport); without one, imports
// of this process wait for each other. A lock that can be lost while
// held (S3's lease, store.LeaseLocker) is checked before every write of
// the commit, the checksum database's head included: an importer that
// could not renew its lease for longer than the lease less its margin
// stops with "lost the import lease" (store.ErrLockLost) before that
// write, every version it made visible whole and the import unrecorded,
// so importing the bundle again finishes it.
package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/digest"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
)

// Options configure Import.
type Options struct {
	// Verify checks the manifest signature (see bundle.ReadOptions).
	Verify func(manifest []byte, sigs bundle.Signatures) error
	// AllowUnsigned accepts bundles without a signature.
	AllowUnsigned bool
	// Actor is recorded in the import history ("local:alice").
	Actor string
	// KeyID is never read, and no caller sets it: the import history
	// (Record) holds no key ID.
	KeyID func() string
	// CommitHook, if set, runs before each file is committed; tests use it
	// to stop an import at chosen points.
	CommitHook func(name string)
	// CheckManifest, if set, runs once the manifest is read and its
	// signature accepted (see bundle.ReadOptions).
	CheckManifest func(*bundle.Manifest) error
	// ModCache says the store is a GOMODCACHE's cache directory: proofs
	// go where the go command's checksum-database client caches them
	// (download/sumdb/NAME/...), so builds with GOPROXY=off verify too.
	ModCache bool
	// ScratchDir is the local directory that holds the stage when the
	// store is not on the local filesystem (not a store.Local); empty
	// means the system's temporary directory. A store.Local stages in
	// its own StagingDir, so that its files can be moved into place.
	ScratchDir string
}

// Result reports an import.
type Result struct {
	// Bundle is the file the bundle was read from, as the caller named
	// it (the command line's argument); empty when not set.
	Bundle          string              `json:"bundle,omitempty"`
	Digest          string              `json:"digest"` // SHA-256 of the bundle file
	AlreadyImported bool                `json:"alreadyImported"`
	Added           modules.VersionList `json:"added"`
	Present         modules.VersionList `json:"present"` // held already with the same content
	// Deleted are the bundle's versions that were deleted from the store
	// on purpose ('modferry delete'): they stay gone and were left out.
	Deleted modules.VersionList `json:"deleted,omitempty"`
	// For a delta bundle (made against an inventory of this store):
	// BaseMissing are the versions the inventory listed, which the delta
	// therefore left out, that the store no longer holds (deleted or
	// pruned since); BaseUnknown says the store keeps no record of that
	// inventory, so nothing could be checked.
	BaseMissing modules.VersionList `json:"baseMissing,omitempty"`
	BaseUnknown bool                `json:"baseUnknown,omitempty"`
	// BaseCheckError says why what the delta left out could not be
	// checked (the import itself succeeded).
	BaseCheckError string           `json:"baseCheckError,omitempty"`
	Files          int              `json:"files"`
	Bytes          int64            `json:"bytes"`
	Manifest       *bundle.Manifest `json:"-"`
	// VulnDB reports the bundled vulnerability database, if any.
	VulnDB *VulnDBResult `json:"vulndb,omitempty"`
}

// Record is the import history entry, stored as bundles/<digest>.json.
type Record struct {
	Digest   string          `json:"digest"`
	Imported time.Time       `json:"imported"`
	Actor    string          `json:"actor"`
	File     string          `json:"file"`
	Manifest json.RawMessage `json:"manifest"`
}

// ConflictError reports a module version the store holds with other
// content than the bundle's. It matches checksumdb.ErrSecurity: one of
// the two copies was altered.
type ConflictError struct {
	Module module.Version
	What   string // "zip" or "go.mod"
	Store  string // hash in the store
	Bundle string // hash in the bundle
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: the store holds this version with a different %s (store %s, bundle %s); nothing was imported — a module version must never change, find out which copy is genuine",
		e.Module, e.What, e.Store, e.Bundle)
}

// Is reports that e matches checksumdb.ErrSecurity.
func (e *ConflictError) Is(target error) bool { return target == checksumdb.ErrSecurity }

// StagingDir is the store directory holding the stages of imports in
// progress, each locked by its import (package scratch); what a crashed
// import left there is removed by the next import (ImportStream) and by
// the server's housekeeping. A store that is not a store.Local has no
// directory: its stages go to "modferry-staging" in Options.ScratchDir.
const StagingDir = "staging"

// ScratchSpace returns the existing local directory on whose filesystem
// an import into st with options o stages the bundle: the store's own
// directory for a store.Local, else o.ScratchDir or the system's
// temporary directory. Free-space checks look there.
func ScratchSpace(st store.Store, o Options) string {
	if l, ok := st.(store.Local); ok {
		return l.Root()
	}
	if o.ScratchDir != "" {
		return o.ScratchDir
	}
	return os.TempDir()
}

// StagingPath returns the local directory that holds the stages of
// imports into st with options o: the store's StagingDir for a
// store.Local, else "modferry-staging" in ScratchSpace.
func StagingPath(st store.Store, o Options) string {
	if l, ok := st.(store.Local); ok {
		return filepath.Join(l.Root(), StagingDir)
	}
	return filepath.Join(ScratchSpace(st, o), "modferry-"+StagingDir)
}

// Import verifies the bundle file and adds it to the store. A bundle the
// store's import history records already is not imported again.
//
// Finding the record takes the bundle's digest, a pass over the whole
// file of its own. It runs beside the start of the import (which hashes
// what it reads again, for the digest it records): the import reads and
// checks the manifest and its signature meanwhile, then waits for the
// digest before it reads any other member, and stops if the store
// records the bundle. The start of the import then costs no wall time,
// and a repeated import no more than the digest.
func Import(ctx context.Context, st store.Store, bundleFile string, opts Options) (*Result, error) {
	f, err := os.Open(bundleFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		sum      string
		found    bool
		sumErr   error
		digested = make(chan struct{})
	)
	go func() {
		defer close(digested)
		defer trace.StartRegion(ctx, "import: bundle digest").End()
		if sum, sumErr = digest.File(bundleFile); sumErr == nil {
			found, sumErr = store.Exists(ctx, st, "bundles/"+sum+".json")
		}
	}()
	check := opts.CheckManifest
	opts.CheckManifest = func(m *bundle.Manifest) error {
		select {
		case <-digested:
		case <-ctx.Done():
			return ctx.Err()
		}
		switch {
		case sumErr != nil:
			return sumErr
		case found:
			return errRecorded
		case check != nil:
			return check(m)
		}
		return nil
	}
	res, err := ImportStream(ctx, st, f, filepath.Base(bundleFile), opts)
	if err != nil && ctx.Err() != nil {
		return nil, err // stopped by the caller
	}
	<-digested
	switch {
	case err == nil:
		// Done under the import lock, which found no record, or found
		// it and did nothing: either way the answer.
		return res, nil
	case sumErr != nil:
		return nil, sumErr
	case found:
		return &Result{Digest: sum, AlreadyImported: true}, nil
	}
	return nil, err
}

// errRecorded stops an import whose bundle the store records already.
var errRecorded = errors.New("the bundle is imported already")

// ImportStream reads a bundle from r in one pass and adds it to the store,
// recording name in the import history. Every byte is checked as it
// arrives (bundle.Read: the zstd frame header first, then the manifest and
// its signature, then each member against the manifest), so a bad stream
// is refused where it goes wrong, and nothing reaches the store unless
// every check passes. Nothing may follow the bundle in r. Members are
// staged in the store's StagingDir (see ScratchSpace); a full disk there
// is a *NoSpaceError.
func ImportStream(ctx context.Context, st store.Store, r io.Reader, name string, opts Options) (*Result, error) {
	stageDir, stage, cleanup, err := newStage(StagingPath(st, opts))
	if err != nil {
		return nil, err
	}
	defer cleanup()
	space := ScratchSpace(st, opts)
	region := trace.StartRegion(ctx, "import: read")
	m, manifestBytes, digest, err := readBundle(ctx, space, r, stage, opts)
	region.End()
	if err != nil {
		return nil, err
	}
	res := &Result{Digest: digest, Manifest: m}

	held, err := lockImport(ctx, st)
	if err != nil {
		return nil, err
	}
	defer held.Unlock()
	// A lock that can be lost (an S3 lease) is checked before every write
	// from here on: an importer cut off from the store for longer than
	// the lease stops before it makes anything more visible.
	st = store.Fence(st, held, "the import stopped there (every version it made visible is whole, and it is not recorded): import the bundle again")
	recName := "bundles/" + digest + ".json"
	if ok, err := store.Exists(ctx, st, recName); err != nil {
		return nil, err
	} else if ok {
		res.AlreadyImported = true
		return res, nil
	}

	// Check everything against the store before writing anything.
	defer trace.StartRegion(ctx, "import: commit").End()
	region = trace.StartRegion(ctx, "import: check store")
	work, err := checkStore(ctx, st, m, res)
	if err == nil {
		work, err = leaveOutDeleted(ctx, st, work, res)
	}
	region.End()
	if err != nil {
		return nil, err
	}
	// Checksum-database proofs first: a bundle whose proofs cannot join
	// the store's log is refused before any module is committed. The
	// commit is laid out meanwhile: planCommit only reads the store and
	// writes into the stage.
	var files []store.Move
	planned := make(chan error, 1)
	go func() {
		var err error
		files, err = planCommit(ctx, st, stage, stageDir, work, res)
		planned <- err
	}()
	region = trace.StartRegion(ctx, "import: proofs")
	sumErr := importSumDB(ctx, st, m, stage, opts.ModCache)
	region.End()
	planErr := <-planned
	if sumErr != nil {
		return nil, noSpace(sumErr, space, manifestBytes)
	}
	if planErr != nil {
		return nil, planErr
	}
	if err := revivePruned(ctx, st, work); err != nil {
		return nil, err
	}
	// Commit the files, durably, and only then record the import.
	region = trace.StartRegion(ctx, "import: move")
	err = commit(ctx, st, stageDir, files, opts.CommitHook)
	region.End()
	if err != nil {
		return nil, noSpace(err, space, manifestBytes)
	}
	if len(files) > 0 {
		if err := modules.StampAddition(ctx, st, "import "+digest); err != nil {
			return nil, noSpace(err, space, manifestBytes)
		}
	}
	if !opts.ModCache {
		if res.VulnDB, err = importVulnDB(ctx, st, m, stage); err != nil {
			return nil, err
		}
	}
	if err := keepSBOMs(ctx, st, digest, m, stage); err != nil {
		return nil, noSpace(err, space, manifestBytes)
	}
	rec := Record{Digest: digest, Imported: time.Now().UTC(), Actor: opts.Actor, File: name, Manifest: manifestBytes}
	if err := writeRecord(ctx, st, recName, rec, opts.CommitHook); err != nil {
		return nil, noSpace(err, space, manifestBytes)
	}
	if m.BaseInventory != "" && !opts.ModCache {
		// The import is done and recorded: a failure here is a warning.
		if err := checkBase(ctx, st, m, res); err != nil {
			res.BaseCheckError = err.Error()
		}
	}
	return res, nil
}

// checkBase looks at what the delta bundle m left out: the versions of the
// inventory it was made against that the store no longer holds.
func checkBase(ctx context.Context, st store.Store, m *bundle.Manifest, res *Result) error {
	carried := make(map[module.Version]bool, len(m.Modules))
	for _, mod := range m.Modules {
		carried[mod.ModuleVersion()] = true
	}
	missing, known, err := inventory.CheckBase(ctx, st, m.BaseInventory, carried)
	if err != nil {
		return err
	}
	res.BaseUnknown = !known
	res.BaseMissing = missing
	return nil
}

// sumDBMemory bounds the checksum-database proofs an import holds in
// memory; the rest are staged in files.
const sumDBMemory = 64 << 20

// newStage makes a staging directory for one import in staging, locked
// until cleanup removes it.
func newStage(staging string) (dir string, stage *bundle.DirStage, cleanup func(), err error) {
	// Stages that crashed imports left are held by no process; remove
	// them first (a minute's margin covers a stage between its creation
	// and its locking).
	scratch.Clean(staging, "*", time.Now().Add(-time.Minute))
	dir, release, err := scratch.MkdirTemp(staging, "stage-*")
	if err != nil {
		return "", nil, nil, err
	}
	stage, err = bundle.NewDirStage(dir)
	if err != nil {
		os.RemoveAll(dir)
		release()
		return "", nil, nil, err
	}
	// The checksum-database proofs are read back once and written to
	// the store anew (importSumDB): no file for them in the stage.
	stage.KeepInMemory("sumdb/", sumDBMemory)
	// The stage is synced as a whole before its files are committed
	// (commit); its disk writes start as its files are closed.
	stage.Writeback = true
	return dir, stage, func() {
		stage.Close()
		os.RemoveAll(dir)
		release()
	}, nil
}

// readBundle reads and checks the bundle in r into stage (bundle.Read),
// and checks that nothing follows it. It returns the manifest, its bytes
// as signed and the SHA-256 (hex) of the bundle.
func readBundle(ctx context.Context, space string, r io.Reader, stage *bundle.DirStage, opts Options) (*bundle.Manifest, []byte, string, error) {
	h := sha256.New()
	in := io.TeeReader(r, h)
	var manifestBytes []byte
	verify := opts.Verify
	if verify != nil {
		verify = func(m []byte, sigs bundle.Signatures) error {
			manifestBytes = m
			return opts.Verify(m, sigs)
		}
	}
	m, err := bundle.Read(ctx, in, bundle.ReadOptions{Verify: verify, AllowUnsigned: opts.AllowUnsigned, Stage: stage, CheckManifest: opts.CheckManifest})
	if err != nil {
		return nil, nil, "", noSpace(err, space, manifestBytes)
	}
	if n, _ := io.Copy(io.Discard, io.LimitReader(in, 1)); n > 0 {
		return nil, nil, "", fmt.Errorf("%w: data after the end of the zstd frame", bundle.ErrNonCanonical)
	}
	if manifestBytes == nil {
		manifestBytes, _ = m.Marshal()
	}
	return m, manifestBytes, hex.EncodeToString(h.Sum(nil)), nil
}

// A todo is a module version of the bundle the store lacks.
type todo struct {
	mod bundle.Module
	// pruned: prune removed the version; its deletion record goes
	// before the commit.
	pruned bool
}

// checkStore compares every module version of m with the store's copy
// (compare): it lists in res.Present the versions held already, and
// returns the others.
func checkStore(ctx context.Context, st store.Store, m *bundle.Manifest, res *Result) ([]todo, error) {
	// A few reads of the store per version, several versions at once (on
	// an object store each read is a round trip).
	present := make([]bool, len(m.Modules))
	err := store.Each(ctx, len(m.Modules), func(ctx context.Context, i int) (err error) {
		present[i], err = compare(ctx, st, m.Modules[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	var work []todo
	for i, mod := range m.Modules {
		if present[i] {
			res.Present = append(res.Present, mod.ModuleVersion())
			continue
		}
		work = append(work, todo{mod: mod})
	}
	return work, nil
}

// leaveOutDeleted reads the deletion record of each version in work. A
// version deleted on purpose ('modferry delete': a record not marked
// Pruned) stays gone: it is left out of the commit and listed in
// res.Deleted, however many bundles bring it back. A version prune
// removed is marked for revival (todo.pruned). It returns the rest of
// work.
func leaveOutDeleted(ctx context.Context, st store.Store, work []todo, res *Result) ([]todo, error) {
	repo := &modules.Repo{Store: st}
	gone := make([]*modules.GoneRecord, len(work))
	err := store.Each(ctx, len(work), func(ctx context.Context, i int) (err error) {
		gone[i], err = repo.IsGone(ctx, work[i].mod.ModuleVersion())
		return err
	})
	if err != nil {
		return nil, err
	}
	kept := work[:0]
	for i, w := range work {
		switch g := gone[i]; {
		case g == nil:
		case g.Pruned:
			w.pruned = true
		default:
			res.Deleted = append(res.Deleted, w.mod.ModuleVersion())
			continue
		}
		kept = append(kept, w)
	}
	return kept, nil
}

// revivePruned removes the deletion records that prune wrote for the
// versions the bundle brings back, before their files are committed: a
// crash in between leaves such a version absent (404), and the import,
// not yet recorded, is done again.
func revivePruned(ctx context.Context, st store.Store, work []todo) error {
	for _, w := range work {
		if !w.pruned {
			continue
		}
		name, _ := modfiles.Name(w.mod.ModuleVersion(), modfiles.Gone)
		if err := st.Delete(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// planCommit returns the staged files that commit work into the store,
// in commit order, counting them in res.
func planCommit(ctx context.Context, st store.Store, stage *bundle.DirStage, stageDir string, work []todo, res *Result) ([]store.Move, error) {
	repo := &modules.Repo{Store: st}
	// The members' sizes, which bundle.Read checked.
	sizes := make(map[string]int64, len(res.Manifest.Files))
	for _, f := range res.Manifest.Files {
		sizes[f.Path] = f.Size
	}
	// Lay out every file to commit, in commit order
	// (modfiles.CommitOrder): per version the .mod, .zip and .ziphash,
	// then the .info that makes it visible; then the list files.
	// Generated files are written into the stage, flat, like the
	// members, once laid out, several at once.
	type genFile struct {
		local   string
		content []byte
	}
	var gen []genFile
	addGen := func(content []byte) string {
		local := filepath.Join(stageDir, fmt.Sprintf("g%06d", len(gen)+1))
		gen = append(gen, genFile{local, content})
		return local
	}
	var moves []store.Move
	newVersions := map[string][]string{} // module path -> versions with zips
	for _, w := range work {
		v := w.mod.ModuleVersion()
		hasZip := w.mod.ZipHash != ""
		if _, ok := newVersions[v.Path]; !ok {
			newVersions[v.Path] = nil
		}
		for _, k := range modfiles.CommitOrder(hasZip) {
			name, _ := modfiles.Name(v, k)
			var local string
			var size int64
			if k == modfiles.ZipHash {
				content := []byte(w.mod.ZipHash + "\n")
				local, size = addGen(content), int64(len(content))
			} else {
				member, err := bundle.DownloadPath(v, k)
				if err != nil {
					return nil, err
				}
				if local, err = stage.LocalPath(member); errors.Is(err, fs.ErrNotExist) && k == modfiles.Info {
					continue // a go.mod-only version without .info
				} else if err != nil {
					return nil, err
				}
				size = sizes[member]
				// Listed: a version with its zip and its .info, which
				// the go command asks for first (a zip without one is
				// stored, and served to no one).
				if k == modfiles.Info && hasZip {
					newVersions[v.Path] = append(newVersions[v.Path], v.Version)
				}
			}
			res.Bytes += size
			res.Files++
			moves = append(moves, store.Move{Name: name, Src: local})
		}
		res.Added = append(res.Added, v)
	}
	paths := make([]string, 0, len(newVersions))
	for p := range newVersions {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	// Each list is the store's versions and the new ones: a listing of
	// the store per module, several at once.
	lists := make([][]byte, len(paths))
	err := store.Each(ctx, len(paths), func(ctx context.Context, i int) (err error) {
		lists[i], err = repo.ListFile(ctx, paths[i], newVersions[paths[i]]...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, p := range paths {
		listName, err := modfiles.ListName(p)
		if err != nil {
			return nil, err
		}
		moves = append(moves, store.Move{Name: listName, Src: addGen(lists[i])})
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, f := range gen {
		g.Go(func() error { return os.WriteFile(f.local, f.content, 0o644) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return moves, nil
}

// commit puts the staged files into the store. A store.Stager takes them
// by rename, in order: the staged files are made durable first, and the
// moves after; a crash keeps a prefix of them. Any other store (an
// object store, where each write is a round trip) gets each file through
// Put, which makes it visible whole and durable: several versions at
// once, each version's files in order, then the module lists, several at
// once. Either way a crash leaves each version with a prefix of its files
// (a version whose .info is missing is not visible), and a module's list
// is written only once all its versions are.
//
// The hook runs before each file, on the goroutine that writes it (on
// several at once for a store that is not a Stager); the commit stops
// before that file if the hook cancels ctx.
func commit(ctx context.Context, st store.Store, stageDir string, files []store.Move, hook func(name string)) error {
	if sg, ok := st.(store.Stager); ok {
		if err := store.SyncFS(stageDir); err != nil {
			return err
		}
		if err := sg.MoveFiles(ctx, files, hook); err != nil {
			return err
		}
		return store.SyncFS(sg.Root())
	}
	// planCommit lays out each version's files together, in order, and
	// the lists after them all.
	var versions [][]store.Move
	var lists []store.Move
	index := map[module.Version]int{}
	for _, f := range files {
		v, _, err := modfiles.ParseName(f.Name)
		if err != nil {
			lists = append(lists, f)
			continue
		}
		i, ok := index[v]
		if !ok {
			i = len(versions)
			index[v] = i
			versions = append(versions, nil)
		}
		versions[i] = append(versions[i], f)
	}
	put := func(ctx context.Context, files []store.Move) error {
		for _, f := range files {
			if hook != nil {
				hook(f.Name)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := putFile(ctx, st, f); err != nil {
				return fmt.Errorf("committing %s: %w", f.Name, err)
			}
		}
		return nil
	}
	for _, group := range [][][]store.Move{versions, splitEach(lists)} {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(store.Workers)
		for _, files := range group {
			g.Go(func() error { return put(gctx, files) })
		}
		if err := g.Wait(); err != nil {
			// The first failure, not the cancellation it caused.
			return err
		}
	}
	return ctx.Err()
}

// splitEach returns each file as a group of its own.
func splitEach(files []store.Move) [][]store.Move {
	out := make([][]store.Move, len(files))
	for i := range files {
		out[i] = files[i : i+1]
	}
	return out
}

// putFile writes the local file f.Src to the object f.Name.
func putFile(ctx context.Context, st store.Store, f store.Move) error {
	in, err := os.Open(f.Src)
	if err != nil {
		return err
	}
	defer in.Close()
	return st.Put(ctx, f.Name, in)
}

// writeRecord writes the import record, which marks the bundle imported.
func writeRecord(ctx context.Context, st store.Store, recName string, rec Record, hook func(string)) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if hook != nil {
		hook(recName)
	}
	return st.Put(ctx, recName, bytes.NewReader(append(b, '\n')))
}

// compare reports whether the store holds mod already with the same
// content, and fails with a *ConflictError if it holds other content.
func compare(ctx context.Context, st store.Store, mod bundle.Module) (bool, error) {
	v := mod.ModuleVersion()
	modName, _ := modfiles.Name(v, modfiles.Mod)
	have, err := store.ReadAll(ctx, st, modName)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if h := modfiles.HashMod(have); h != mod.ModHash {
		return false, &ConflictError{Module: v, What: "go.mod", Store: h, Bundle: mod.ModHash}
	}
	if mod.ZipHash == "" {
		return true, nil
	}
	zhName, _ := modfiles.Name(v, modfiles.ZipHash)
	zh, err := store.ReadAll(ctx, st, zhName)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // only the go.mod so far
	}
	if err != nil {
		return false, err
	}
	if h := strings.TrimSpace(string(zh)); h != mod.ZipHash {
		return false, &ConflictError{Module: v, What: "zip", Store: h, Bundle: mod.ZipHash}
	}
	infoName, _ := modfiles.Name(v, modfiles.Info)
	return store.Exists(ctx, st, infoName)
}

// LockStore takes the store's import lock, as an import does, for other
// changes that must not interleave with an import's commit (prune).
func LockStore(st store.Store) (func(), error) { return lockStore(st) }

// lockStore takes the store's import lock (store.LockImport: the file
// import.lock of a Disk, a lease on S3), so that two imports never
// interleave their commits. It waits for as long as another holder keeps
// the lock.
func lockStore(st store.Store) (func(), error) {
	h, err := lockImport(context.Background(), st)
	if err != nil {
		return nil, err
	}
	return h.Unlock, nil
}

// lockImport is lockStore that stops waiting when ctx is done, and returns
// the lock itself, which the import checks before each write if it can be
// lost (see fence).
func lockImport(ctx context.Context, st store.Store) (*store.Held, error) {
	return store.LockImport(ctx, st, 0)
}
