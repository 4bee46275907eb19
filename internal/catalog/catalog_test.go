package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/audit/audittest"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

func newDisk(t testing.TB) *store.Disk {
	t.Helper()
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fakeZip is the content written as a version's zip: the catalog reads
// only its size.
func fakeZip(v module.Version) string { return "zip of " + v.String() }

func fakeH1(s string) string {
	h := sha256.Sum256([]byte(s))
	return "h1:" + base64.StdEncoding.EncodeToString(h[:])
}

// add stores a complete version (or a go.mod-only one when zip is false)
// through modules.Repo, as imports and publishes do.
func add(t testing.TB, st store.Store, mv, gomod string, zip bool, tm time.Time) {
	t.Helper()
	path, version, _ := strings.Cut(mv, "@")
	v := module.Version{Path: path, Version: version}
	if gomod == "" {
		gomod = "module " + path + "\n\ngo 1.22\n"
	}
	f := modules.Files{Mod: strings.NewReader(gomod)}
	if zip {
		f.Zip = strings.NewReader(fakeZip(v))
		f.ZipHash = fakeH1(fakeZip(v))
		info, _ := json.Marshal(modules.InfoJSON{Version: version, Time: tm})
		f.Info = strings.NewReader(string(info))
	}
	if err := (&modules.Repo{Store: st}).Add(context.Background(), v, f); err != nil {
		t.Fatal(err)
	}
}

// record writes an import record listing the module versions, as package
// importer does.
func record(t testing.TB, st store.Store, digest string, imported time.Time, mvs ...string) {
	t.Helper()
	var m bundle.Manifest
	for _, mv := range mvs {
		p, v, _ := strings.Cut(mv, "@")
		m.Modules = append(m.Modules, bundle.Module{Path: p, Version: v})
	}
	man, _ := json.Marshal(m)
	rec, _ := json.Marshal(importer.Record{Digest: digest, Imported: imported, File: digest + ".tar.zst", Manifest: man})
	if err := st.Put(context.Background(), "bundles/"+digest+".json", strings.NewReader(string(rec))); err != nil {
		t.Fatal(err)
	}
}

func built(t testing.TB, st store.Store) *Catalog {
	t.Helper()
	c := New(st)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !c.Ready() {
		t.Fatal("not ready after Refresh")
	}
	return c
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestModule(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	const lib = "example.com/Lib"
	latestMod := "// Deprecated: use example.com/lib/v2.\nmodule example.com/Lib\n\ngo 1.23\n\nrequire (\n\texample.com/dep v1.0.0\n\texample.com/other v0.1.0 // indirect\n)\n\nretract (\n\tv1.2.0 // published by mistake\n\t[v0.1.0, v0.2.0]\n)\n"
	add(t, st, lib+"@v0.1.0", "", true, t0)
	add(t, st, lib+"@v0.9.0", "", false, time.Time{}) // go.mod-only
	add(t, st, lib+"@v1.0.0", "module example.com/Lib\n\ngo 1.21\n\nrequire example.com/dep v0.9.0\n", true, t0.Add(time.Hour))
	add(t, st, lib+"@v1.1.0-pre", "", true, t0.Add(2*time.Hour))
	add(t, st, lib+"@v1.2.0", latestMod, true, t0.Add(3*time.Hour))
	add(t, st, lib+"@v1.2.1-0.20260301130000-abcdefabcdef", "", true, t0.Add(4*time.Hour))
	add(t, st, "example.com/dep@v1.0.0", "", true, t0)
	add(t, st, "example.com/app@v1.0.0", "module example.com/app\n\nrequire example.com/Lib v1.0.0\n", true, t0)
	add(t, st, "example.com/app@v1.1.0", "module example.com/app\n\nrequire example.com/Lib v1.2.0\n", true, t0)
	add(t, st, "example.com/tool@v0.1.0", "module example.com/tool\n\nrequire example.com/Lib v0.9.0\n", false, t0)
	record(t, st, "bb", t0.Add(48*time.Hour), lib+"@v1.0.0", lib+"@v1.2.0")
	record(t, st, "aa", t0.Add(24*time.Hour), lib+"@v1.0.0")
	c := built(t, st)

	m, err := c.Module(ctx, lib, ModuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// v1.2.0 is retracted by its own go.mod: latest is the highest
	// release left, v1.0.0 (not the pre-release, not the pseudo-version).
	if m.Latest != "v1.0.0" {
		t.Errorf("Latest = %q, want v1.0.0", m.Latest)
	}
	if m.Deprecated != "use example.com/lib/v2." {
		t.Errorf("Deprecated = %q", m.Deprecated)
	}
	var got []string
	for _, v := range m.Versions {
		s := v.Version
		if v.GoModOnly {
			s += " mod-only"
		}
		if v.Retracted {
			s += " retracted(" + v.RetractRationale + ")"
		}
		if v.Origin != nil {
			s += " from " + v.Origin.Bundle
		}
		got = append(got, s)
	}
	want := []string{
		"v1.2.1-0.20260301130000-abcdefabcdef",
		"v1.2.0 retracted(published by mistake) from bb",
		"v1.1.0-pre",
		"v1.0.0 from aa",
		"v0.9.0 mod-only",
		"v0.1.0 retracted()",
	}
	if !slices.Equal(got, want) {
		t.Errorf("versions:\n got %q\nwant %q", got, want)
	}
	v120 := m.Versions[1]
	v := module.Version{Path: lib, Version: "v1.2.0"}
	if v120.ZipHash != fakeH1(fakeZip(v)) || v120.ModHash != modfiles.HashMod([]byte(latestMod)) {
		t.Errorf("hashes %s %s", v120.ZipHash, v120.ModHash)
	}
	if v120.ZipSize != int64(len(fakeZip(v))) || v120.ModSize != int64(len(latestMod)) {
		t.Errorf("sizes %d %d", v120.ZipSize, v120.ModSize)
	}
	if !v120.Time.Equal(t0.Add(3*time.Hour)) || v120.GoVersion != "1.23" {
		t.Errorf("time %v go %q", v120.Time, v120.GoVersion)
	}
	if m.RequiresOf != "v1.0.0" || len(m.Requires) != 1 || m.Requires[0] != (Requirement{Path: "example.com/dep", Version: "v0.9.0"}) {
		t.Errorf("requires of %s: %+v", m.RequiresOf, m.Requires)
	}
	wantDeps := []Dependent{
		{Path: "example.com/app", Versions: []DependentVersion{{Version: "v1.0.0", Requires: "v1.0.0"}, {Version: "v1.1.0", Requires: "v1.2.0"}}},
		{Path: "example.com/tool", Versions: []DependentVersion{{Version: "v0.1.0", Requires: "v0.9.0"}}},
	}
	if m.DependentsTotal != 2 || fmt.Sprint(m.Dependents) != fmt.Sprint(wantDeps) {
		t.Errorf("dependents %d %+v", m.DependentsTotal, m.Dependents)
	}
	if m.Partial {
		t.Error("Partial after Refresh")
	}

	// A version asked for: its own requirements, with // indirect.
	m, err = c.Module(ctx, lib, ModuleOptions{Version: "v1.2.0", MaxDependents: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Requires) != 2 || !m.Requires[1].Indirect || len(m.Dependents) != 1 || m.DependentsTotal != 2 {
		t.Errorf("v1.2.0: requires %+v dependents %d/%d", m.Requires, len(m.Dependents), m.DependentsTotal)
	}
	for _, tc := range []struct{ path, version string }{{lib, "v9.9.9"}, {"example.com/lib", ""}, {"example.com/none", ""}} {
		_, err := c.Module(ctx, tc.path, ModuleOptions{Version: tc.version})
		var nf *NotFoundError
		if !errors.As(err, &nf) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s@%s: err = %v, want a NotFoundError", tc.path, tc.version, err)
		}
	}
}

func TestLatest(t *testing.T) {
	for _, tc := range []struct {
		versions []string // "!" marks go.mod-only
		want     string
	}{
		{[]string{"v1.0.0", "v1.1.0-rc.1", "v1.1.1-0.20260101000000-abcdefabcdef"}, "v1.0.0"},
		{[]string{"v1.1.0-rc.1", "v1.1.1-0.20260101000000-abcdefabcdef"}, "v1.1.0-rc.1"},
		{[]string{"v0.0.0-20250101000000-abcdefabcdef", "v0.0.0-20260101000000-abcdefabcdef"}, "v0.0.0-20260101000000-abcdefabcdef"},
		{[]string{"v1.0.0", "!v1.5.0"}, "v1.0.0"},
		{[]string{"v1.0.0", "v2.0.0+incompatible"}, "v1.0.0"},
		{[]string{"v2.0.0+incompatible"}, "v2.0.0+incompatible"},
		{[]string{"!v1.0.0"}, ""},
	} {
		st := newDisk(t)
		for _, v := range tc.versions {
			mv, modOnly := strings.CutPrefix(v, "!")
			add(t, st, "example.com/m@"+mv, "", !modOnly, t0)
		}
		m, err := built(t, st).Module(context.Background(), "example.com/m", ModuleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Latest != tc.want {
			t.Errorf("%v: latest %q, want %q", tc.versions, m.Latest, tc.want)
		}
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	add(t, st, "example.com/a@v1.0.0", "", true, t0)
	add(t, st, "example.com/a@v1.1.0", "", true, t0)
	add(t, st, "example.com/b@v1.0.0", "", false, t0)
	record(t, st, "old", t0, "example.com/a@v1.0.0")
	record(t, st, "new", t0.Add(time.Hour), "example.com/a@v1.1.0")
	sdb := checksumdbtest.New(t, "sum.catalog.test", t.TempDir(), 5)
	db, err := checksumdb.NewDB(st, sdb.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "sumdb/sum.catalog.test/latest", strings.NewReader(string(sdb.SignedHead(t)))); err != nil {
		t.Fatal(err)
	}
	s, err := built(t, st).Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	zip := int64(len(fakeZip(module.Version{Path: "example.com/a", Version: "v1.0.0"})) * 2)
	mod := int64(len("module example.com/a\n\ngo 1.22\n")*2 + len("module example.com/b\n\ngo 1.22\n"))
	if s.Modules != 2 || s.Versions != 2 || s.GoModOnly != 1 || s.ZipBytes != zip || s.ModBytes != mod || s.Bundles != 2 {
		t.Errorf("stats %+v; want zip %d mod %d", s, zip, mod)
	}
	if s.NewestImport == nil || s.NewestImport.Bundle != "new" {
		t.Errorf("newest import %+v", s.NewestImport)
	}
	if len(s.ChecksumDBs) != 1 || s.ChecksumDBs[0].Name != "sum.catalog.test" || s.ChecksumDBs[0].Size != 5 {
		t.Errorf("heads %+v", s.ChecksumDBs)
	}
}

// TestOtherWriter changes the store through another Store value (as
// another process would) and checks what the catalog shows.
func TestOtherWriter(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	add(t, st, "example.com/lib@v1.0.0", "", true, t0)
	add(t, st, "example.com/app@v1.0.0", "module example.com/app\n\nrequire example.com/lib v1.0.0\n", true, t0)
	c := built(t, st)

	other, err := store.NewDisk(st.Root())
	if err != nil {
		t.Fatal(err)
	}
	add(t, other, "example.com/lib@v1.1.0", "", true, t0)
	add(t, other, "example.com/new@v0.1.0", "", true, t0)
	repo := &modules.Repo{Store: other}
	if err := repo.Delete(ctx, module.Version{Path: "example.com/app", Version: "v1.0.0"}, modules.GoneRecord{Time: t0}); err != nil {
		t.Fatal(err)
	}

	// A module page is current at once.
	m, err := c.Module(ctx, "example.com/lib", ModuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Latest != "v1.1.0" || len(m.Versions) != 2 {
		t.Errorf("lib: latest %s, %d versions", m.Latest, len(m.Versions))
	}
	if _, err := c.Module(ctx, "example.com/app", ModuleOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted app: %v", err)
	}
	if m, err := c.Module(ctx, "example.com/new", ModuleOptions{}); err != nil || m.Latest != "v0.1.0" {
		t.Errorf("new: %v", err)
	}
	// The deleted app's requirement no longer counts.
	if m, _ = c.Module(ctx, "example.com/lib", ModuleOptions{}); m.DependentsTotal != 0 {
		t.Errorf("dependents of lib after app's deletion: %+v", m.Dependents)
	}

	// Search and stats, after a refresh.
	add(t, other, "example.com/later@v0.1.0", "", true, t0)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(ctx, Query{Q: "example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(res); !slices.Equal(got, []string{"example.com/later", "example.com/lib", "example.com/new"}) {
		t.Errorf("search after refresh: %q", got)
	}
	s, _ := c.Stats(ctx)
	if s.Modules != 3 || s.Versions != 4 {
		t.Errorf("stats after refresh: %+v", s)
	}
}

func paths(r *SearchResult) []string {
	var out []string
	for _, m := range r.Modules {
		out = append(out, m.Path)
	}
	return out
}

func TestPartial(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	add(t, st, "example.com/lib@v1.0.0", "", true, t0)
	c := New(st)
	res, err := c.Search(ctx, Query{})
	if err != nil || !res.Partial || len(res.Modules) != 0 {
		t.Errorf("search before any refresh: %+v, %v", res, err)
	}
	m, err := c.Module(ctx, "example.com/lib", ModuleOptions{})
	if err != nil || !m.Partial || m.Latest != "v1.0.0" {
		t.Errorf("module before any refresh: %+v, %v", m, err)
	}
	ctx2, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- c.Run(ctx2, time.Hour, func(err error) { t.Error(err) }) }()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	res, _ = c.Search(ctx, Query{})
	if res.Partial || len(res.Modules) != 1 {
		t.Errorf("search when ready: %+v", res)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
}

// TestSkeleton checks that a module Refresh entered from its listing alone
// (before reading its files) answers module pages in full.
func TestSkeleton(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	add(t, st, "example.com/lib@v1.0.0", "module example.com/lib\n\ngo 1.24\n\nrequire example.com/dep v1.0.0\n", true, t0)
	c := New(st)
	names, err := c.listModule(ctx, "example.com/lib")
	if err != nil {
		t.Fatal(err)
	}
	fp, vfs := parseListing(names)
	c.mu.Lock()
	c.replace("example.com/lib", nil, skeleton("example.com/lib", fp, vfs))
	c.mu.Unlock()
	res, _ := c.Search(ctx, Query{Q: "lib"})
	if len(res.Modules) != 1 || res.Modules[0].Latest != "v1.0.0" {
		t.Errorf("search over a skeleton: %+v", res)
	}
	m, err := c.Module(ctx, "example.com/lib", ModuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := m.Versions[0]; v.ZipHash == "" || v.GoVersion != "1.24" || v.Time.IsZero() || v.ZipSize == 0 {
		t.Errorf("module page over a skeleton: %+v", v)
	}
	if d, _ := c.Module(ctx, "example.com/lib", ModuleOptions{}); !reflect.DeepEqual(d.Versions[0], m.Versions[0]) {
		t.Error("second read differs")
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Stats(ctx)
	if s.Modules != 1 || s.Versions != 1 || s.ZipBytes != int64(len(fakeZip(module.Version{Path: "example.com/lib", Version: "v1.0.0"}))) {
		t.Errorf("stats %+v", s)
	}
}

// TestPublishedOrigin records publishes in a real audit log (as the
// server and 'modferry publish' do) and reads them as origins, also when
// they are appended after the catalog read the log: a log file on a local
// store, and a journal of one object per entry on any other store.
func TestPublishedOrigin(t *testing.T) {
	ctx := context.Background()
	for _, tc := range audittest.Forms(t) {
		t.Run(tc.Name, func(t *testing.T) {
			st := tc.Store
			publish := func(mv string, result string) {
				t.Helper()
				in, err := tc.Log.Begin(ctx, audit.Entry{Actor: "token:ci", Action: audit.ActionPublish, Target: mv})
				if err != nil {
					t.Fatal(err)
				}
				if result == audit.ResultOK {
					add(t, st, mv, "", true, t0)
				}
				if _, err := in.Finish(ctx, result, nil); err != nil {
					t.Fatal(err)
				}
			}
			publish("corp.example/lib@v1.0.0", audit.ResultOK)
			publish("corp.example/lib@v1.1.0", audit.ResultError)
			add(t, st, "corp.example/lib@v1.1.0", "", true, t0) // from a module cache, say
			c := built(t, st)
			publish("corp.example/lib@v1.2.0", audit.ResultOK)
			if err := c.RefreshModules(ctx, "corp.example/lib"); err != nil {
				t.Fatal(err)
			}
			m, err := c.Module(ctx, "corp.example/lib", ModuleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range m.Versions {
				o := "none"
				if v.Origin != nil {
					o = v.Origin.Kind + " by " + v.Origin.Actor
				}
				got = append(got, v.Version+": "+o)
			}
			want := []string{"v1.2.0: publish by token:ci", "v1.1.0: none", "v1.0.0: publish by token:ci"}
			if !slices.Equal(got, want) {
				t.Errorf("origins %q, want %q", got, want)
			}
		})
	}
}

// failingStore fails to open one object, as a disk error would.
type failingStore struct {
	store.Store
	bad string
}

var errInjected = errors.New("injected read error")

func (s failingStore) Open(ctx context.Context, name string) (store.File, error) {
	if name == s.bad {
		return nil, errInjected
	}
	return s.Store.Open(ctx, name)
}

// TestUnreadableModule checks that a module that cannot be read is
// reported without keeping the rest of the catalog partial.
func TestUnreadableModule(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	add(t, st, "example.com/good@v1.0.0", "", true, t0)
	add(t, st, "example.com/bad@v1.0.0", "", true, t0)
	bad, _ := modfiles.Name(module.Version{Path: "example.com/bad", Version: "v1.0.0"}, modfiles.Mod)
	c := New(failingStore{st, bad})
	if err := c.Refresh(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("Refresh: %v, want the injected error", err)
	}
	if !c.Ready() {
		t.Error("not ready after a pass with one unreadable module")
	}
	if _, err := c.Module(ctx, "example.com/good", ModuleOptions{}); err != nil {
		t.Error(err)
	}
	if _, err := c.Module(ctx, "example.com/bad", ModuleOptions{}); !errors.Is(err, errInjected) {
		t.Errorf("bad module: %v", err)
	}
	res, _ := c.Search(ctx, Query{})
	if got := paths(res); !slices.Equal(got, []string{"example.com/bad", "example.com/good"}) {
		t.Errorf("search: %q (the unreadable module stays listed from its directory)", got)
	}
}

// dirLister is a store kept elsewhere (not store.Local) that counts the
// listings of the directories counted says.
type dirLister struct {
	store.Store
	counted func(dir string) bool
	mu      sync.Mutex
	lists   int
}

func (d *dirLister) List(ctx context.Context, dir string) ([]string, error) {
	if d.counted(dir) {
		d.mu.Lock()
		d.lists++
		d.mu.Unlock()
	}
	return d.Store.List(ctx, dir)
}

// count returns the listings counted since the last call.
func (d *dirLister) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.lists
	d.lists = 0
	return n
}

// TestRefreshSkipsWalk: on a store kept elsewhere, a refresh lists no
// module directory while the addition and removal stamps are unchanged;
// it walks again once an import, publish or fill-through stamps an
// addition or a deletion stamps its removal, and every FullWalkEvery-th
// refresh walks anyway, for writers that do not stamp.
func TestRefreshSkipsWalk(t *testing.T) {
	ctx := context.Background()
	st := &dirLister{Store: store.NewMem(), counted: func(dir string) bool { return strings.HasPrefix(dir, "download") }}
	versions := func(c *Catalog) int {
		t.Helper()
		s, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.Versions
	}
	refresh := func(c *Catalog) {
		t.Helper()
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	add(t, st, "example.com/lib@v1.0.0", "", true, t0)
	c := built(t, st)
	if n := st.count(); n == 0 || versions(c) != 1 {
		t.Fatalf("first refresh: %d listings, %d versions", n, versions(c))
	}
	refresh(c)
	if n := st.count(); n != 0 {
		t.Errorf("refresh with nothing changed listed %d module directories", n)
	}

	add(t, st, "example.com/lib@v1.1.0", "", true, t0)
	if err := modules.StampAddition(ctx, st, "test"); err != nil {
		t.Fatal(err)
	}
	refresh(c)
	if n := st.count(); n == 0 || versions(c) != 2 {
		t.Fatalf("after a stamped addition: %d listings, %d versions; want a walk and 2", n, versions(c))
	}
	refresh(c)
	if n := st.count(); n != 0 {
		t.Errorf("second refresh after the addition listed %d module directories", n)
	}

	repo := &modules.Repo{Store: st}
	if err := repo.Delete(ctx, module.Version{Path: "example.com/lib", Version: "v1.0.0"}, modules.GoneRecord{Time: t0}); err != nil {
		t.Fatal(err)
	}
	st.count()
	refresh(c)
	if n := st.count(); n == 0 || versions(c) != 1 {
		t.Fatalf("after a deletion: %d listings, %d versions; want a walk and 1", n, versions(c))
	}

	// A writer that does not stamp is seen by the FullWalkEvery-th
	// refresh after the last walk, not before.
	add(t, st, "example.com/quiet@v0.1.0", "", true, t0)
	for i := 1; i < FullWalkEvery; i++ {
		refresh(c)
		if versions(c) != 1 {
			t.Fatalf("refresh %d after the last walk walked", i)
		}
	}
	refresh(c)
	if versions(c) != 2 {
		t.Errorf("refresh %d after the last walk: %d versions, want the unstamped one too", FullWalkEvery, versions(c))
	}
}

// TestModuleOriginReadsOnlyAfterAdditions: on a store kept elsewhere, the
// page of a module whose version has no origin (a module cache's)
// lists the import records and the audit journal only when the addition
// stamp changed since it last did; a publish, which stamps, shows at once.
func TestModuleOriginReadsOnlyAfterAdditions(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMem()
	st := &dirLister{Store: mem, counted: func(dir string) bool { return dir == HistoryDir || dir == audit.StoreJournalDir }}
	add(t, st, "corp.example/lib@v1.0.0", "", true, t0) // no origin
	c := built(t, st)
	page := func() []string {
		t.Helper()
		m, err := c.Module(ctx, "corp.example/lib", ModuleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range m.Versions {
			o := "none"
			if v.Origin != nil {
				o = v.Origin.Kind
			}
			got = append(got, v.Version+": "+o)
		}
		return got
	}
	page()
	st.count()
	for range 3 {
		page()
	}
	if n := st.count(); n != 0 {
		t.Fatalf("three views with nothing added listed the records or the journal %d times", n)
	}
	l := audit.OpenJournal(audit.JournalIn(mem), "mem")
	in, err := l.Begin(ctx, audit.Entry{Actor: "token:ci", Action: audit.ActionPublish, Target: "corp.example/lib@v1.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	add(t, st, "corp.example/lib@v1.1.0", "", true, t0)
	if _, err := in.Finish(ctx, audit.ResultOK, nil); err != nil {
		t.Fatal(err)
	}
	if err := modules.StampAddition(ctx, st, "publish corp.example/lib@v1.1.0"); err != nil {
		t.Fatal(err)
	}
	if got := page(); !slices.Equal(got, []string{"v1.1.0: publish", "v1.0.0: none"}) {
		t.Fatalf("after a publish: %q", got)
	}
	if n := st.count(); n == 0 {
		t.Fatal("the view after a stamped publish read nothing new")
	}
}
