package modules

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"

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
