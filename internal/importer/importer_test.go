package importer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/store"
)

func newStore(t *testing.T) *store.Disk {
	t.Helper()
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func opts(pub sign.PublicKey) importer.Options {
	return importer.Options{Verify: bundletest.Verifier(pub), Actor: "test"}
}

// plainStore is a Disk seen only through the Store interface: none of
// package store's optional capabilities (Local, Stager, Locker,
// TempCleaner, Batcher) shows through, as with a store kept elsewhere.
type plainStore struct{ store.Store }

// A target is a store to import into, the Disk under it if any (to look
// at its files) and, for a store that is not a store.Local, the scratch
// directory the import stages in.
type target struct {
	st      store.Store
	disk    *store.Disk
	scratch string
}

// newTarget returns an empty store of the kind named: "disk" (every
// optional capability), "plain" (a Disk with none showing) or "mem"
// (store.Mem: a Batcher and CompareAndSwapper, nothing local).
func newTarget(t *testing.T, kind string) target {
	switch kind {
	case "disk":
		d := newStore(t)
		return target{st: d, disk: d}
	case "plain":
		d := newStore(t)
		return target{st: plainStore{d}, disk: d, scratch: t.TempDir()}
	case "mem":
		return target{st: store.NewMem(), scratch: t.TempDir()}
	}
	panic("unknown store kind " + kind)
}

var storeKinds = []string{"disk", "plain", "mem"}

// snapshot maps every object of the target's store to its SHA-256.
func (tg target) snapshot(t *testing.T) map[string]string {
	t.Helper()
	if tg.disk != nil {
		return snapshot(t, tg.disk)
	}
	ctx := context.Background()
	snap := map[string]string{}
	var walk func(dir string)
	walk = func(dir string) {
		names, err := tg.st.List(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			name := path.Join(dir, n)
			if strings.HasSuffix(n, "/") {
				walk(name)
				continue
			}
			b, err := store.ReadAll(ctx, tg.st, name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			snap[name] = hex.EncodeToString(sum[:])
		}
	}
	walk("")
	return snap
}

func (tg target) opts(pub sign.PublicKey) importer.Options {
	o := opts(pub)
	o.ScratchDir = tg.scratch
	return o
}

// forEachStore runs f on each kind of store (newTarget): on all but
// the Disk, a bundle is staged in a scratch directory and committed file
// by file through Put.
func forEachStore(t *testing.T, f func(t *testing.T, tg target)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { f(t, newTarget(t, kind)) })
	}
}

// snapshot maps every file of the store (but the import lock) to its
// SHA-256.
func snapshot(t *testing.T, st *store.Disk) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(st.Root(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "import.lock" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(st.Root(), p)
		snap[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func sameSnapshot(a, b map[string]string) error {
	for k, v := range a {
		if b[k] != v {
			return fmt.Errorf("%s changed", k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return fmt.Errorf("%s appeared", k)
		}
	}
	return nil
}

func TestImportAndReimport(t *testing.T) {
	forEachStore(t, testImportAndReimport)
}

func testImportAndReimport(t *testing.T, tg target) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	mods := bundletest.RandomModules(1, 5, 2000)
	mods = append(mods, bundletest.Module{Path: "modferry.test/modonly", Version: "v1.0.0"})
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	m := bundletest.Write(t, b, mods, key)
	st := tg.st
	res, err := importer.Import(ctx, st, b, tg.opts(pub))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 6 || res.AlreadyImported {
		t.Fatalf("first import: %+v", res)
	}
	repo := &modules.Repo{Store: st}
	for _, mod := range m.Modules {
		vs, _ := repo.List(ctx, mod.Path)
		listed := len(vs) == 1
		if listed != (mod.ZipHash != "") {
			t.Errorf("%s@%s listed=%v, zip %q", mod.Path, mod.Version, listed, mod.ZipHash)
		}
	}
	// The list file for GOPROXY=file:// users.
	if b, err := store.ReadAll(ctx, st, "download/modferry.test/rand/m00/@v/list"); err != nil || string(b) != "v1.0.0\n" {
		t.Errorf("list file = %q, %v", b, err)
	}
	checkStagingGone(t, tg)
	// The addition is stamped for the catalogs of servers.
	stamp, err := store.ReadAll(ctx, st, modules.AdditionStamp)
	if err != nil || !strings.Contains(string(stamp), res.Digest) {
		t.Errorf("addition stamp after the import = %q, %v; want one naming the bundle", stamp, err)
	}
	snap := tg.snapshot(t)
	res, err = importer.Import(ctx, st, b, tg.opts(pub))
	if err != nil || !res.AlreadyImported {
		t.Fatalf("re-import = %+v, %v; want a no-op", res, err)
	}
	if err := sameSnapshot(snap, tg.snapshot(t)); err != nil {
		t.Fatalf("re-import changed the store: %v", err)
	}
	// A different bundle with some of the same versions: present, not re-added.
	b2 := filepath.Join(t.TempDir(), "b2.tar.zst")
	bundletest.Write(t, b2, append(bundletest.RandomModules(1, 2, 2000), bundletest.RandomModules(9, 7, 100)[6]), key)
	res, err = importer.Import(ctx, st, b2, tg.opts(pub))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Present) != 2 || len(res.Added) != 1 {
		t.Fatalf("overlapping import: added %v, present %v", res.Added, res.Present)
	}
}

// checkStagingGone checks that an import left no stage behind: in the
// store's StagingDir for a Disk, in the scratch directory for a store
// that is not local, which must never stage in the store's directory.
func checkStagingGone(t *testing.T, tg target) {
	t.Helper()
	if ents, _ := os.ReadDir(importer.StagingPath(tg.st, importer.Options{ScratchDir: tg.scratch})); len(ents) != 0 {
		t.Errorf("stages left behind: %v", ents)
	}
	if tg.scratch == "" {
		return
	}
	if got, want := importer.StagingPath(tg.st, importer.Options{ScratchDir: tg.scratch}), filepath.Join(tg.scratch, "modferry-staging"); got != want {
		t.Errorf("a store that is not local stages in %s, want %s", got, want)
	}
	if tg.disk == nil {
		return
	}
	if _, err := os.Stat(filepath.Join(tg.disk.Root(), importer.StagingDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a store that is not local got a staging directory in the store: %v", err)
	}
}

func TestImportConflict(t *testing.T) {
	forEachStore(t, testImportConflict)
}

func testImportConflict(t *testing.T, tg target) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	st := tg.st
	b1 := filepath.Join(t.TempDir(), "b1.tar.zst")
	bundletest.Write(t, b1, bundletest.RandomModules(1, 3, 1000), key)
	if _, err := importer.Import(ctx, st, b1, tg.opts(pub)); err != nil {
		t.Fatal(err)
	}
	snap := tg.snapshot(t)
	// Same module versions, other content, plus a new one.
	other := append(bundletest.RandomModules(2, 3, 1000), bundletest.Module{Path: "modferry.test/new", Version: "v1.0.0", Files: map[string][]byte{"a.go": []byte("package a\n")}})
	b2 := filepath.Join(t.TempDir(), "b2.tar.zst")
	bundletest.Write(t, b2, other, key)
	_, err := importer.Import(ctx, st, b2, tg.opts(pub))
	var ce *importer.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "modferry.test/rand/m0") {
		t.Fatalf("conflicting import: %v, want a ConflictError naming the module", err)
	}
	if !errors.Is(err, checksumdb.ErrSecurity) {
		t.Errorf("conflicting import: %v does not match checksumdb.ErrSecurity", err)
	}
	if err := sameSnapshot(snap, tg.snapshot(t)); err != nil {
		t.Fatalf("a refused import changed the store: %v", err)
	}
}

// TestImportTamperSweep flips single bytes all over a bundle — in the
// compressed file and in the tar stream inside it (then recompressed) —
// and checks that every import fails and leaves the store as it was.
func TestImportTamperSweep(t *testing.T) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	mods := bundletest.RandomModules(3, 3, 300)
	mods = append(mods, bundletest.Module{Path: "modferry.test/modonly", Version: "v1.0.0"})
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tar.zst")
	bundletest.Write(t, good, mods, key)
	compressed, _ := os.ReadFile(good)
	dec, _ := zstd.NewReader(nil)
	raw, err := dec.DecodeAll(compressed, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil)

	st := newStore(t)
	seed := filepath.Join(dir, "seed.tar.zst")
	bundletest.Write(t, seed, bundletest.RandomModules(7, 2, 100), key)
	if _, err := importer.Import(ctx, st, seed, opts(pub)); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, st)

	r := rand.New(rand.NewPCG(1, 2))
	const flips = 220
	bad := filepath.Join(dir, "bad.tar.zst")
	accepted := 0
	for i := range flips {
		var data []byte
		var where string
		if i%2 == 0 {
			// Spread evenly over the tar stream: headers, manifest,
			// signature and every member's content.
			off := i / 2 * len(raw) / (flips / 2)
			mut := bytes.Clone(raw)
			mut[off] ^= byte(1 + r.UintN(255))
			if bytes.Equal(mut, raw) {
				continue
			}
			data = enc.EncodeAll(mut, nil)
			where = fmt.Sprintf("tar offset %d", off)
		} else {
			off := i / 2 * len(compressed) / (flips / 2)
			data = bytes.Clone(compressed)
			data[off] ^= byte(1 + r.UintN(255))
			where = fmt.Sprintf("compressed offset %d", off)
		}
		if err := os.WriteFile(bad, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := importer.Import(ctx, st, bad, opts(pub))
		if err == nil {
			accepted++
			t.Errorf("flip at %s: import accepted a tampered bundle", where)
			continue
		}
	}
	if err := sameSnapshot(snap, snapshot(t, st)); err != nil {
		t.Fatalf("tampered imports changed the store: %v", err)
	}
	if accepted > 0 {
		t.Fatalf("%d of %d tampered bundles accepted", accepted, flips)
	}
}

// TestImportInterrupted stops the import before each commit step in turn
// (as a crash would), then checks that what the store shows is complete
// and correct, and that importing again finishes the job.
func TestImportInterrupted(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { testImportInterrupted(t, kind) })
	}
}

func testImportInterrupted(t *testing.T, kind string) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	mods := bundletest.RandomModules(5, 4, 500)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	m := bundletest.Write(t, b, mods, key)
	// A crash is the import's context cancelled from its commit hook, at
	// each step in turn: the commit stops before that file. (An object
	// store's commit writes several versions at once, so there the
	// versions under way at that moment may be further along.)
	var steps atomic.Int32
	{
		tg := newTarget(t, kind)
		o := tg.opts(pub)
		o.CommitHook = func(string) { steps.Add(1) }
		if _, err := importer.Import(ctx, tg.st, b, o); err != nil {
			t.Fatal(err)
		}
	}
	for stop := range steps.Load() {
		tg := newTarget(t, kind)
		st := tg.st
		o := tg.opts(pub)
		var n atomic.Int32
		crash, cancel := context.WithCancel(ctx)
		o.CommitHook = func(string) {
			if n.Add(1) == stop+1 {
				cancel()
			}
		}
		if _, err := importer.Import(crash, st, b, o); !errors.Is(err, context.Canceled) {
			t.Fatalf("import stopped at step %d: %v, want context.Canceled", stop, err)
		}
		cancel()
		checkConsistent(t, st, m)
		if _, err := importer.Import(ctx, st, b, tg.opts(pub)); err != nil {
			t.Fatalf("re-import after a stop at step %d: %v", stop, err)
		}
		repo := &modules.Repo{Store: st}
		for _, mod := range m.Modules {
			if vs, _ := repo.List(ctx, mod.Path); len(vs) != 1 {
				t.Errorf("after re-import, %s lists %v", mod.Path, vs)
			}
		}
	}
}

// checkConsistent checks that every listed version, and every version
// whose .info is visible, is complete, and that every visible module
// file matches the manifest.
func checkConsistent(t *testing.T, st store.Store, m *bundle.Manifest) {
	t.Helper()
	ctx := context.Background()
	want := map[string]string{}
	for _, f := range m.Files {
		want[f.Path] = f.SHA256
	}
	repo := &modules.Repo{Store: st}
	for _, mod := range m.Modules {
		v := mod.ModuleVersion()
		vs, _ := repo.List(ctx, v.Path)
		infoName, _ := modfiles.Name(v, modfiles.Info)
		if ok, err := store.Exists(ctx, st, infoName); err != nil {
			t.Fatal(err)
		} else if ok {
			vs = append(vs, v.Version) // visible: must be complete
		}
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			name, _ := modfiles.Name(v, k)
			f, err := st.Open(ctx, name)
			if errors.Is(err, fs.ErrNotExist) {
				if len(vs) > 0 {
					t.Fatalf("%s is listed but %s is missing", v, name)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			if got := hex.EncodeToString(h.Sum(nil)); got != want[name] {
				t.Fatalf("%s is visible with wrong content", name)
			}
		}
	}
}

func TestSumDBKeySecurity(t *testing.T) {
	known := checksumdb.KnownKeys["sum.golang.org"]
	if key, err := importer.SumDBKey(&bundle.Manifest{SumDB: &bundle.SumDBInfo{Name: "sum.golang.org", Key: known}}); err != nil || key != known {
		t.Fatalf("the go command's own key: %q, %v", key, err)
	}
	other := "sum.golang.org+00000000+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	_, err := importer.SumDBKey(&bundle.Manifest{SumDB: &bundle.SumDBInfo{Name: "sum.golang.org", Key: other}})
	var ke *importer.SumDBKeyError
	if !errors.As(err, &ke) || ke.Name != "sum.golang.org" || ke.Key != other {
		t.Fatalf("another key for sum.golang.org: %v, want a *importer.SumDBKeyError", err)
	}
	if !errors.Is(err, checksumdb.ErrSecurity) {
		t.Errorf("%v does not match checksumdb.ErrSecurity", err)
	}
	// A key the go command does not know of is not a security failure.
	_, err = importer.SumDBKey(&bundle.Manifest{SumDB: &bundle.SumDBInfo{Name: "sum.example.com", Key: other}})
	if err == nil || errors.Is(err, checksumdb.ErrSecurity) {
		t.Errorf("a key for another database: %v, want an error that is not a security failure", err)
	}
}

// TestReimportRecordedOnly: a bundle the store records is not imported
// again, whatever the start of the import running beside the digest
// finds (here: a signature the options no longer accept; a commit hook
// must never run); a bundle it does not record is still checked.
func TestReimportRecordedOnly(t *testing.T) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	_, otherPub := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, bundletest.RandomModules(2, 4, 5000), key)
	st := newStore(t)
	first, err := importer.Import(ctx, st, b, opts(pub))
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, st)
	o := opts(otherPub)
	o.CommitHook = func(name string) { t.Errorf("re-import commits %s", name) }
	for range 3 {
		res, err := importer.Import(ctx, st, b, o)
		if err != nil || !res.AlreadyImported || res.Digest != first.Digest {
			t.Fatalf("re-import with another key = %+v, %v; want already imported, digest %s", res, err, first.Digest)
		}
	}
	if err := sameSnapshot(snap, snapshot(t, st)); err != nil {
		t.Fatalf("re-import changed the store: %v", err)
	}
	b2 := filepath.Join(t.TempDir(), "b2.tar.zst")
	bundletest.Write(t, b2, bundletest.RandomModules(3, 2, 500), key)
	if _, err := importer.Import(ctx, st, b2, opts(otherPub)); err == nil {
		t.Fatal("a bundle signed by an untrusted key was imported")
	}
	if err := sameSnapshot(snap, snapshot(t, st)); err != nil {
		t.Fatalf("a refused import changed the store: %v", err)
	}
}

// TestImportKeepsDeletedGone checks that a version deleted on purpose
// stays gone when a later bundle (a full export, or a delta made from an
// inventory that no longer lists it) carries it again, and that one prune
// removed comes back.
func TestImportKeepsDeletedGone(t *testing.T) {
	forEachStore(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		key, pub := bundletest.NewKey(t)
		mods := bundletest.RandomModules(1, 3, 500) // m00, m01, m02 v1.0.0
		b := filepath.Join(t.TempDir(), "b.tar.zst")
		bundletest.Write(t, b, mods, key)
		st := tg.st
		if _, err := importer.Import(ctx, st, b, tg.opts(pub)); err != nil {
			t.Fatal(err)
		}
		repo := &modules.Repo{Store: st}
		deleted := module.Version{Path: mods[0].Path, Version: mods[0].Version}
		pruned := module.Version{Path: mods[1].Path, Version: mods[1].Version}
		now := time.Now().UTC()
		if err := repo.Delete(ctx, deleted, modules.GoneRecord{Time: now, Actor: "test", Reason: "malicious"}); err != nil {
			t.Fatal(err)
		}
		if err := repo.Delete(ctx, pruned, modules.GoneRecord{Time: now, Actor: "test", Reason: "pruned: unused", Pruned: true}); err != nil {
			t.Fatal(err)
		}
		// Another bundle (another digest) with the same three versions.
		b2 := filepath.Join(t.TempDir(), "b2.tar.zst")
		bundletest.Write(t, b2, append(slices.Clone(mods), bundletest.Module{Path: "modferry.test/other", Version: "v1.0.0"}), key)
		res, err := importer.Import(ctx, st, b2, tg.opts(pub))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Deleted) != 1 || res.Deleted[0] != deleted {
			t.Errorf("Deleted = %v, want [%v]", res.Deleted, deleted)
		}
		if slices.Contains(res.Added, deleted) || !slices.Contains(res.Added, pruned) {
			t.Errorf("Added = %v: want the pruned version back and not the deleted one", res.Added)
		}
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			name, _ := modfiles.Name(deleted, k)
			if ok, _ := store.Exists(ctx, st, name); ok {
				t.Errorf("%s came back", name)
			}
		}
		if g, err := repo.IsGone(ctx, deleted); err != nil || g == nil || g.Reason != "malicious" {
			t.Errorf("deletion record after the import = %+v, %v", g, err)
		}
		if g, err := repo.IsGone(ctx, pruned); err != nil || g != nil {
			t.Errorf("prune's record after the version came back = %+v, %v", g, err)
		}
		if vs, err := repo.List(ctx, deleted.Path); err != nil || len(vs) != 0 {
			t.Errorf("versions of %s = %v, %v; want none", deleted.Path, vs, err)
		}
		list, _ := modfiles.ListName(deleted.Path)
		if b, err := store.ReadAll(ctx, st, list); err == nil && len(b) != 0 {
			t.Errorf("list file of the deleted version = %q", b)
		}
	})
}

// TestZipWithoutInfoNotListed: a version whose bundle carries its zip but
// no .info (the go command asks for the .info first) is stored but not
// listed: a list naming it would send file:// clients to a 404.
func TestZipWithoutInfoNotListed(t *testing.T) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	mods := bundletest.RandomModules(3, 2, 300)
	mods[1].NoInfo = true
	mods[1].Path = mods[0].Path
	mods[1].Version = "v1.1.0"
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, mods, key)
	st := newStore(t)
	if _, err := importer.Import(ctx, st, b, opts(pub)); err != nil {
		t.Fatal(err)
	}
	list, _ := modfiles.ListName(mods[0].Path)
	if got, err := store.ReadAll(ctx, st, list); err != nil || string(got) != "v1.0.0\n" {
		t.Errorf("list file = %q, %v; want only the version with its .info", got, err)
	}
}
