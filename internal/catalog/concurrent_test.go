package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// TestConcurrentRefreshWhileWriting adds and deletes versions through a
// second Store (another process, as far as the catalog can tell) while
// readers search, open module pages and refresh; once the writer stops,
// one Refresh must leave the catalog exactly equal to the store.
func TestConcurrentRefreshWhileWriting(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	other, err := store.NewDisk(st.Root())
	if err != nil {
		t.Fatal(err)
	}
	c := New(st)
	mod := func(i int) string { return fmt.Sprintf("example.com/M%02d", i) }

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // writer
		defer close(stop)
		repo := &modules.Repo{Store: other}
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 150 {
			p := mod(r.IntN(12))
			v := fmt.Sprintf("v1.%d.0", r.IntN(8))
			gomod := fmt.Sprintf("module %s\n\nrequire %s v1.0.0\n", p, mod(r.IntN(12)))
			if i%5 == 4 {
				err := repo.Delete(ctx, module.Version{Path: p, Version: v}, modules.GoneRecord{Time: t0})
				if err != nil && !isNotExist(err) {
					t.Error(err)
					return
				}
				continue
			}
			// Versions never change: add each at most once, and never
			// again once deleted.
			name, _ := modfiles.Name(module.Version{Path: p, Version: v}, modfiles.Mod)
			gone, _ := repo.IsGone(ctx, module.Version{Path: p, Version: v})
			if ok, _ := store.Exists(ctx, other, name); ok || gone != nil {
				continue
			}
			add(t, other, p+"@"+v, gomod, i%3 != 0, t0)
		}
	})
	reader := func(f func() error) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := f(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	reader(func() error { return c.Refresh(ctx) })
	reader(func() error {
		_, err := c.Search(ctx, Query{Q: "m0", Limit: 3})
		return err
	})
	reader(func() error {
		_, err := c.Module(ctx, mod(rand.IntN(12)), ModuleOptions{})
		if isNotExist(err) {
			err = nil
		}
		return err
	})
	reader(func() error {
		_, err := c.Stats(ctx)
		return err
	})
	wg.Wait()
	if t.Failed() {
		return
	}

	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	checkAgainstStore(t, c, st)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// checkAgainstStore compares the whole catalog with what modules.Repo
// reads from the store.
func checkAgainstStore(t *testing.T, c *Catalog, st store.Store) {
	t.Helper()
	ctx := context.Background()
	entries, err := (&modules.Repo{Store: st}).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	requiredBy := map[string]map[string]bool{}
	zipVersions, modOnly := 0, 0
	for _, e := range entries {
		s := e.Version.Version
		if !e.HasZip {
			s += " mod-only"
			modOnly++
		} else {
			zipVersions++
		}
		want[e.Path] = append(want[e.Path], s)
		m, err := c.Module(ctx, e.Path, ModuleOptions{Version: e.Version.Version, MaxDependents: -1})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range m.Requires {
			if requiredBy[r.Path] == nil {
				requiredBy[r.Path] = map[string]bool{}
			}
			if r.Path != e.Path {
				requiredBy[r.Path][e.Path] = true
			}
		}
	}
	res, err := c.Search(ctx, Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Modules) != len(want) {
		t.Errorf("search lists %d modules, the store holds %d", len(res.Modules), len(want))
	}
	for p, vs := range want {
		m, err := c.Module(ctx, p, ModuleOptions{MaxDependents: -1})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range m.Versions {
			s := v.Version
			if v.GoModOnly {
				s += " mod-only"
			}
			got = append(got, s)
		}
		slices.Reverse(got)
		if !slices.Equal(got, vs) {
			t.Errorf("%s: catalog %q, store %q", p, got, vs)
		}
		var deps []string
		for _, d := range m.Dependents {
			deps = append(deps, d.Path)
		}
		var wantDeps []string
		for d := range requiredBy[p] {
			wantDeps = append(wantDeps, d)
		}
		slices.Sort(wantDeps)
		if !slices.Equal(deps, wantDeps) || m.DependentsTotal != len(wantDeps) {
			t.Errorf("%s: dependents %q (%d), want %q", p, deps, m.DependentsTotal, wantDeps)
		}
	}
	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Modules != len(want) || s.Versions != zipVersions || s.GoModOnly != modOnly {
		t.Errorf("stats %+v; store: %d modules, %d versions, %d go.mod-only", s, len(want), zipVersions, modOnly)
	}
}
