package prune

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/audit/audittest"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

func mv(s string) module.Version {
	p, v, _ := strings.Cut(s, "@")
	return module.Version{Path: p, Version: v}
}

func mvs(ss ...string) []module.Version {
	var out []module.Version
	for _, s := range ss {
		out = append(out, mv(s))
	}
	return out
}

func removed(p *Plan) []string {
	var out []string
	for _, r := range p.Remove {
		out = append(out, r.String())
	}
	return out
}

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func days(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

// facts is a store of two bundles (old, new), a publish, an orphan (from a
// module cache or a fill-through fetch), a toolchain and a version being
// written.
func facts() Facts {
	return Facts{
		Versions: mvs("a.test/x@v1.0.0", "a.test/x@v1.1.0", "b.test/y@v1.0.0", "c.test/priv@v0.1.0",
			"d.test/orphan@v1.0.0", "golang.org/toolchain@v0.0.1-go1.27.0.linux-amd64", "e.test/busy@v1.0.0"),
		Bundles: []Bundle{
			{Digest: "new", Imported: days(30), Modules: mvs("a.test/x@v1.1.0", "b.test/y@v1.0.0")},
			{Digest: "old", Imported: days(400), Modules: mvs("a.test/x@v1.0.0", "b.test/y@v1.0.0", "golang.org/toolchain@v0.0.1-go1.27.0.linux-amd64")},
		},
		Published: map[module.Version]time.Time{mv("c.test/priv@v0.1.0"): days(500)},
		Downloads: map[module.Version]time.Time{},
		Written: map[module.Version]time.Time{
			mv("d.test/orphan@v1.0.0"): days(300), mv("e.test/busy@v1.0.0"): days(300),
		},
		Busy: map[module.Version]bool{mv("e.test/busy@v1.0.0"): true},
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		downloads map[string]time.Time
		want      []string
	}{
		{
			// The orphan came from a module cache or a fill-through
			// fetch: no bundle can keep it, so only the download
			// record may remove it.
			name: "default removes nothing: every bundle is kept, and the orphan no bundle lists",
			want: nil,
		},
		{
			name: "keep-bundles 1 drops the old bundle's own versions",
			opts: Options{KeepBundles: 1},
			want: []string{"a.test/x@v1.0.0"},
		},
		{
			name: "keep-bundles 0 keeps no bundle",
			opts: Options{KeepBundles: -1},
			want: []string{"a.test/x@v1.0.0", "a.test/x@v1.1.0", "b.test/y@v1.0.0"},
		},
		{
			name:      "unused-since: the download record decides, arrival counts as use",
			opts:      Options{UnusedSince: 180 * 24 * time.Hour},
			downloads: map[string]time.Time{"b.test/y@v1.0.0": days(10), "a.test/x@v1.0.0": days(200)},
			// a.test/x@v1.1.0 arrived 30 days ago: not unused for 180 days yet.
			want: []string{"a.test/x@v1.0.0", "d.test/orphan@v1.0.0"},
		},
		{
			name:      "unused-since keeps a recently downloaded orphan",
			opts:      Options{UnusedSince: 180 * 24 * time.Hour},
			downloads: map[string]time.Time{"d.test/orphan@v1.0.0": days(1)},
			want:      []string{"a.test/x@v1.0.0", "b.test/y@v1.0.0"},
		},
		{
			name: "unused-since with keep-bundles 1 keeps the newest bundle",
			opts: Options{UnusedSince: 180 * 24 * time.Hour, KeepBundles: 1},
			want: []string{"a.test/x@v1.0.0", "d.test/orphan@v1.0.0"},
		},
		{
			name: "a keep list keeps",
			opts: Options{KeepBundles: -1, Keep: mvs("a.test/x@v1.0.0", "d.test/orphan@v1.0.0")},
			want: []string{"a.test/x@v1.1.0", "b.test/y@v1.0.0"},
		},
		{
			name: "toolchains only with --toolchains",
			opts: Options{KeepBundles: -1, Toolchains: true, UnusedSince: time.Hour},
			want: []string{"a.test/x@v1.0.0", "a.test/x@v1.1.0", "b.test/y@v1.0.0", "d.test/orphan@v1.0.0",
				"golang.org/toolchain@v0.0.1-go1.27.0.linux-amd64"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := facts()
			for s, tm := range tc.downloads {
				f.Downloads[mv(s)] = tm
			}
			tc.opts.Now = now
			p := Decide(f, tc.opts)
			if got := removed(p); !slices.Equal(got, tc.want) {
				t.Errorf("removes %q, want %q", got, tc.want)
			}
			kept := 0
			for _, n := range p.Kept {
				kept += n
			}
			if kept+len(p.Remove) != len(f.Versions) || p.Kept[KeptBusy] != 1 || p.Kept[KeptPublished] != 1 {
				t.Errorf("kept %v and removes %d of %d versions", p.Kept, len(p.Remove), len(f.Versions))
			}
		})
	}
}

func TestDecideReason(t *testing.T) {
	f := facts()
	f.Downloads[mv("a.test/x@v1.0.0")] = days(200)
	p := Decide(f, Options{Now: now, UnusedSince: 180 * 24 * time.Hour})
	r := p.Remove[0]
	if r.String() != "a.test/x@v1.0.0" || !r.LastUsed.Equal(days(200)) || !r.Arrived.Equal(days(400)) {
		t.Fatalf("removal %+v", r)
	}
	want := "pruned: not downloaded for 180d (last on 2026-05-15) and no kept bundle, keep list or publish needs it"
	if r.Reason != want {
		t.Fatalf("reason %q, want %q", r.Reason, want)
	}
}

func TestParseKeepList(t *testing.T) {
	gosum := "a.test/x v1.0.0 h1:AAAA=\na.test/x v1.0.0/go.mod h1:BBBB=\n\nb.test/y v1.2.0/go.mod h1:CCCC=\n"
	got, err := ParseKeepList([]byte(gosum))
	if err != nil {
		t.Fatal(err)
	}
	if want := mvs("a.test/x@v1.0.0", "a.test/x@v1.0.0", "b.test/y@v1.2.0"); !slices.Equal(got, want) {
		t.Fatalf("go.sum: %v, want %v", got, want)
	}
	inv := `{"formatVersion": 1, "created": "2026-12-01T00:00:00Z", "modules": [{"path": "c.test/z", "version": "v0.3.0", "modHash": "h1:x"}], "bundles": []}`
	if got, err := ParseKeepList([]byte(inv)); err != nil || !slices.Equal(got, mvs("c.test/z@v0.3.0")) {
		t.Fatalf("inventory: %v, %v", got, err)
	}
	for _, bad := range []string{"not a go.sum\n", "a.test/x v1.0.0 sha256:x\n", "A..b v1 h1:x\n", `{"formatVersion": 9}`} {
		if _, err := ParseKeepList([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestApply runs a plan on a store: the removed version answers as
// deleted, with the reason; a kept one stays; the bundle record keeps
// its version.
func TestApply(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	repo := &modules.Repo{Store: st}
	add := func(s string) {
		v := mv(s)
		if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module " + v.Path + "\n"), Zip: strings.NewReader("zip")}); err != nil {
			t.Fatal(err)
		}
	}
	add("a.test/x@v1.0.0")
	add("a.test/x@v1.1.0")
	putBundle(t, st, "d0", "2026-10-01T00:00:00Z", "a.test/x@v1.0.0")
	putBundle(t, st, "d1", "2026-11-01T00:00:00Z", "a.test/x@v1.1.0")
	var seen []string
	p, err := Apply(ctx, st, Options{KeepBundles: 1}, func(r Removal) error {
		seen = append(seen, r.String())
		return Remove(ctx, st, r, "test")
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"a.test/x@v1.0.0"}) || p.Kept[KeptBundle] != 1 {
		t.Fatalf("removed %v, kept %v", seen, p.Kept)
	}
	g, err := repo.IsGone(ctx, mv("a.test/x@v1.0.0"))
	if err != nil || g == nil || !strings.HasPrefix(g.Reason, "pruned: ") || g.Actor != "test" {
		t.Fatalf("gone record %+v, %v", g, err)
	}
	for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
		name, _ := modfiles.Name(mv("a.test/x@v1.0.0"), k)
		if _, err := store.ReadAll(ctx, st, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there (%v)", name, err)
		}
	}
	if vs, err := repo.List(ctx, "a.test/x"); err != nil || !slices.Equal(vs, []string{"v1.1.0"}) {
		t.Fatalf("list %v, %v", vs, err)
	}
	// Pruning again finds nothing more.
	again, err := Apply(ctx, st, Options{}, func(r Removal) error { return Remove(ctx, st, r, "test") })
	if err != nil || len(again.Remove) != 0 {
		t.Fatalf("second prune: %v, %v", removed(again), err)
	}
}

// TestApplyKeepsPublished publishes a version (and fails to publish
// another) in the audit log of each form a store keeps, a file on a
// local store and a journal of one object per entry on any other, and
// checks that prune keeps the published version and removes the rest.
func TestApplyKeepsPublished(t *testing.T) {
	ctx := context.Background()
	for _, tc := range audittest.Forms(t) {
		t.Run(tc.Name, func(t *testing.T) {
			repo := &modules.Repo{Store: tc.Store}
			publish := func(s, result string) {
				in, err := tc.Log.Begin(ctx, audit.Entry{Actor: "token:ci", Action: audit.ActionPublish, Target: s})
				if err != nil {
					t.Fatal(err)
				}
				v := mv(s)
				if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module " + v.Path + "\n"), Zip: strings.NewReader("zip")}); err != nil {
					t.Fatal(err)
				}
				if result == "" {
					return // the process died after the commit: no outcome
				}
				if _, err := in.Finish(ctx, result, nil); err != nil {
					t.Fatal(err)
				}
			}
			publish("corp.test/lib@v1.0.0", audit.ResultOK)
			publish("corp.test/lib@v1.1.0", audit.ResultError)
			publish("corp.test/lib@v1.2.0", "")
			// A bundle that is not kept lists them all: only the
			// publish rule can keep them.
			putBundle(t, tc.Store, "d1", "2026-11-01T00:00:00Z", "corp.test/lib@v1.0.0", "corp.test/lib@v1.1.0", "corp.test/lib@v1.2.0")
			p, err := Apply(ctx, tc.Store, Options{KeepBundles: -1}, func(Removal) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			if got := removed(p); !slices.Equal(got, []string{"corp.test/lib@v1.1.0"}) || p.Kept[KeptPublished] != 2 {
				t.Fatalf("removes %v, kept %v; want only the failed publish removed, and the published one and the one whose outcome is missing kept as published", got, p.Kept)
			}
		})
	}
}

// unreadableLog is a store whose audit log file may not be read.
type unreadableLog struct{ store.Store }

func (u unreadableLog) Open(ctx context.Context, name string) (store.File, error) {
	if name == audit.StoreDir+"/"+audit.LogFile {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return u.Store.Open(ctx, name)
}

// TestApplyRefusesUnreadableLog: prune cannot tell which versions were
// published from a log it may not read, so it refuses to plan.
func TestApplyRefusesUnreadableLog(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	if err := st.Put(ctx, audit.StoreDir+"/"+audit.LogFile, strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, unreadableLog{st}, Options{}, func(Removal) error { return nil }); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Apply with an unreadable audit log: %v, want a permission error", err)
	}
}

// putBundle writes an import record of a bundle listing versions.
func putBundle(t *testing.T, st store.Store, digest, imported string, versions ...string) {
	t.Helper()
	var mods []string
	for _, s := range versions {
		v := mv(s)
		mods = append(mods, fmt.Sprintf(`{"path": %q, "version": %q, "modHash": "h1:x"}`, v.Path, v.Version))
	}
	rec := fmt.Sprintf(`{"digest": %q, "imported": %q, "actor": "t", "file": "b.tar.zst", "manifest": {"modules": [%s]}}`, digest, imported, strings.Join(mods, ", "))
	if err := st.Put(context.Background(), "bundles/"+digest+".json", strings.NewReader(rec)); err != nil {
		t.Fatal(err)
	}
}

// TestApplyFinishesUnfinished: a removal that stopped part way (its
// record written, files left) is finished by the next prune --apply.
func TestApplyFinishesUnfinished(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	repo := &modules.Repo{Store: st}
	v := mv("a.test/x@v1.0.0")
	if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module a.test/x\n"), Zip: strings.NewReader("zip")}); err != nil {
		t.Fatal(err)
	}
	putBundle(t, st, "d1", "2026-11-01T00:00:00Z", "a.test/x@v1.0.0")
	gone, _ := modfiles.Name(v, modfiles.Gone)
	info, _ := modfiles.Name(v, modfiles.Info)
	st.Put(ctx, gone, strings.NewReader(`{"reason":"pruned: unused","pruned":true}`))
	st.Delete(ctx, info)
	p, err := Apply(ctx, st, Options{}, func(Removal) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Unfinished) != 1 || p.Unfinished[0] != v {
		t.Errorf("unfinished %v, want [%v]", p.Unfinished, v)
	}
	for _, k := range []modfiles.Kind{modfiles.Mod, modfiles.Zip} {
		n, _ := modfiles.Name(v, k)
		if ok, _ := store.Exists(ctx, st, n); ok {
			t.Errorf("%s left after prune --apply", n)
		}
	}
}
