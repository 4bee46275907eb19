package modules

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

func TestChooseLatest(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{[]string{"v1.0.0", "v1.0.1", "v1.1.0-rc.1"}, "v1.0.1"},
		{[]string{"v1.1.0-rc.1", "v1.1.0-rc.2"}, "v1.1.0-rc.2"},
		{[]string{"v0.0.0-20240101000000-abcdefabcdef", "v0.0.0-20240202000000-abcdefabcdef"}, "v0.0.0-20240202000000-abcdefabcdef"},
		{[]string{"v0.0.0-20240101000000-abcdefabcdef", "v1.0.0-alpha"}, "v1.0.0-alpha"},
		{[]string{"v1.9.0", "v2.0.0+incompatible"}, "v2.0.0+incompatible"},
		{nil, ""},
	} {
		if got := ChooseLatest(tt.in); got != tt.want {
			t.Errorf("ChooseLatest(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRepo(t *testing.T) {
	ctx := context.Background()
	st, _ := store.NewDisk(t.TempDir())
	r := &Repo{Store: st}
	add := func(p, v string, zip bool) {
		f := Files{Mod: strings.NewReader("module " + p + "\n")}
		if zip {
			f.Zip, f.ZipHash = strings.NewReader("zip"), "h1:x"
		}
		if err := r.Add(ctx, module.Version{Path: p, Version: v}, f); err != nil {
			t.Fatal(err)
		}
	}
	add("a.test/m", "v1.0.0", true)
	add("a.test/m", "v1.1.0", false)
	add("a.test/m", "v0.0.0-20240101000000-abcdefabcdef", true)
	add("a.test/m/sub", "v1.0.0", true)
	add("a.test/m", "v1.10.0", false)
	add("a.test/m", "v1.9.0", false)
	if vs, _ := r.List(ctx, "a.test/m"); !slices.Equal(vs, []string{"v1.0.0"}) {
		t.Errorf("List = %v", vs)
	}
	if v, _ := r.Latest(ctx, "a.test/m"); v != "v1.0.0" {
		t.Errorf("Latest = %v", v)
	}
	if _, err := r.Latest(ctx, "a.test/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Latest of an unknown module: %v", err)
	}
	paths, _ := r.ModulePaths(ctx)
	if !slices.Equal(paths, []string{"a.test/m", "a.test/m/sub"}) {
		t.Errorf("ModulePaths = %v", paths)
	}
	all, _ := r.All(ctx)
	var got []string
	for _, e := range all {
		got = append(got, e.String())
	}
	if want := []string{"a.test/m@v0.0.0-20240101000000-abcdefabcdef", "a.test/m@v1.0.0", "a.test/m@v1.1.0", "a.test/m@v1.9.0", "a.test/m@v1.10.0", "a.test/m/sub@v1.0.0"}; !slices.Equal(got, want) {
		t.Errorf("All = %v, want %v (by path, then semver)", got, want)
	}
	if all[0].ZipHash != "h1:x" || all[2].HasZip || all[2].ZipHash != "" {
		t.Errorf("All = %+v", all)
	}
	v := module.Version{Path: "a.test/m", Version: "v1.0.0"}
	if err := r.Delete(ctx, v, GoneRecord{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if g, _ := r.IsGone(ctx, v); g == nil || g.Reason != "test" {
		t.Errorf("IsGone = %+v", g)
	}
	if err := r.Delete(ctx, v, GoneRecord{Reason: "again"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Delete: %v", err)
	}
	if vs, _ := r.List(ctx, "a.test/m"); len(vs) != 0 {
		t.Errorf("List after delete = %v", vs)
	}
	if v, _ := r.Latest(ctx, "a.test/m"); v != "v0.0.0-20240101000000-abcdefabcdef" {
		t.Errorf("Latest after delete = %v, want the pseudo-version", v)
	}
}

// TestDeleteFinishes: a delete that stopped part way (its record
// written, some files and the list left) is finished by deleting again,
// and All leaves the version out while AllAndUnfinished names it.
func TestDeleteFinishes(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	r := &Repo{Store: st}
	v1 := module.Version{Path: "corp.test/m", Version: "v1.0.0"}
	v2 := module.Version{Path: "corp.test/m", Version: "v1.1.0"}
	for _, v := range []module.Version{v1, v2} {
		if err := r.Add(ctx, v, Files{Mod: strings.NewReader("module corp.test/m\n"), Zip: strings.NewReader("zip"), ZipHash: "h1:x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.WriteList(ctx, v1.Path); err != nil {
		t.Fatal(err)
	}
	// The first delete stopped after its record and the .info.
	gone, _ := modfiles.Name(v2, modfiles.Gone)
	info, _ := modfiles.Name(v2, modfiles.Info)
	if err := st.Put(ctx, gone, strings.NewReader(`{"reason":"withdrawn","actor":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, info); err != nil {
		t.Fatal(err)
	}
	es, unfinished, err := r.AllAndUnfinished(ctx)
	if err != nil || len(es) != 1 || len(unfinished) != 1 || unfinished[0] != v2 {
		t.Fatalf("AllAndUnfinished = %v, %v, %v; want %v listed and %v unfinished", es, unfinished, err, v1, v2)
	}
	list, _ := modfiles.ListName(v2.Path)
	if b, _ := store.ReadAll(ctx, st, list); !strings.Contains(string(b), "v1.1.0") {
		t.Fatalf("the test wants the stale list to name v1.1.0: %q", b)
	}
	if err := r.Delete(ctx, v2, GoneRecord{Reason: "again"}); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	for _, k := range []modfiles.Kind{modfiles.Mod, modfiles.Zip, modfiles.ZipHash} {
		n, _ := modfiles.Name(v2, k)
		if ok, _ := store.Exists(ctx, st, n); ok {
			t.Errorf("%s left", n)
		}
	}
	if b, _ := store.ReadAll(ctx, st, list); string(b) != "v1.0.0\n" {
		t.Errorf("list after finishing = %q", b)
	}
	if g, err := r.IsGone(ctx, v2); err != nil || g == nil || g.Reason != "withdrawn" {
		t.Errorf("record after finishing = %+v, %v; want the first delete's", g, err)
	}
	// A delete that stopped after every file but before the list.
	if err := st.Put(ctx, list, strings.NewReader("v1.0.0\nv1.1.0\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, v2, GoneRecord{Reason: "again"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleting a deleted version: %v, want fs.ErrNotExist", err)
	}
	if b, _ := store.ReadAll(ctx, st, list); string(b) != "v1.0.0\n" {
		t.Errorf("list after deleting again = %q", b)
	}
}

// TestDeleteOverPrune: deleting on purpose a version prune removed (whole,
// or a removal that stopped part way) replaces prune's record, so that
// the version stays gone; FinishDelete leaves a revived version alone.
func TestDeleteOverPrune(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	r := &Repo{Store: st}
	v := module.Version{Path: "corp.test/m", Version: "v1.0.0"}
	add := func() {
		t.Helper()
		if err := r.Add(ctx, v, Files{Mod: strings.NewReader("module corp.test/m\n"), Zip: strings.NewReader("zip"), ZipHash: "h1:x"}); err != nil {
			t.Fatal(err)
		}
	}
	add()
	if err := r.Delete(ctx, v, GoneRecord{Reason: "pruned: unused", Pruned: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, v, GoneRecord{Reason: "CVE"}); err != nil {
		t.Fatalf("deleting a pruned version on purpose: %v", err)
	}
	if g, _ := r.IsGone(ctx, v); g == nil || g.Pruned || g.Reason != "CVE" {
		t.Errorf("record after the deliberate delete = %+v", g)
	}

	// Revived (an import removed prune's record and wrote the files):
	// finishing an old removal leaves it alone.
	gone, _ := modfiles.Name(v, modfiles.Gone)
	st.Delete(ctx, gone)
	add()
	if err := r.FinishDelete(ctx, v); err != nil {
		t.Fatal(err)
	}
	if vs, _ := r.Versions(ctx, v.Path); len(vs) != 1 {
		t.Errorf("FinishDelete removed a revived version: versions %v", vs)
	}
}
