package catalog

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// countingDisk is a Disk that counts the listings of @v directories.
type countingDisk struct {
	*store.Disk
	lists atomic.Int32
}

func (d *countingDisk) List(ctx context.Context, dir string) ([]string, error) {
	if filepath.Base(dir) == "@v" {
		d.lists.Add(1)
	}
	return d.Disk.List(ctx, dir)
}

// TestModulePageStat: on a local store a module page stats the module's
// @v directory instead of listing it while the directory is unchanged, and
// lists it again (seeing what another process added) once it changed. A
// listing made less than store.RacyWindow after the directory changed is
// never trusted for that.
func TestModulePageStat(t *testing.T) {
	ctx := context.Background()
	st := &countingDisk{Disk: newDisk(t)}
	add(t, st.Disk, "example.com/m@v1.0.0", "", true, t0)
	vdir, err := modfiles.VersionDir("example.com/m")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(st.Root(), filepath.FromSlash(vdir))
	past := time.Now().Add(-time.Minute)
	if err := os.Chtimes(dir, past, past); err != nil {
		t.Fatal(err)
	}
	c := built(t, st)
	versions := func() int {
		t.Helper()
		m, err := c.Module(ctx, "example.com/m", ModuleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(m.Versions)
	}

	versions()
	before := st.lists.Load()
	for range 5 {
		if n := versions(); n != 1 {
			t.Fatalf("%d versions, want 1", n)
		}
	}
	if n := st.lists.Load() - before; n != 0 {
		t.Errorf("5 views of an unchanged module listed its @v directory %d times, want 0", n)
	}

	// Another process adds a version: the next view lists and shows it.
	other, err := store.NewDisk(st.Root())
	if err != nil {
		t.Fatal(err)
	}
	add(t, other, "example.com/m@v1.1.0", "", true, t0)
	if n := versions(); n != 2 {
		t.Fatalf("after another process added a version: %d versions, want 2", n)
	}
	// Just changed: its stamp is too recent to be trusted, so views keep
	// listing until it is RacyWindow old.
	before = st.lists.Load()
	versions()
	if st.lists.Load() == before {
		t.Error("a view right after a change trusted the directory's new stamp")
	}
	time.Sleep(store.RacyWindow + 20*time.Millisecond)
	versions()
	before = st.lists.Load()
	versions()
	if n := st.lists.Load() - before; n != 0 {
		t.Errorf("a view of a module unchanged for %v listed its directory %d times, want 0", store.RacyWindow, n)
	}
}

// TestRefreshStat: a refresh stats the @v directories whose stamp the
// index holds instead of listing them, lists the one another process
// changed, and still drops a module whose directory went away.
// (TestConcurrentRefreshWhileWriting checks the index against the store
// under concurrent changes.)
func TestRefreshStat(t *testing.T) {
	ctx := context.Background()
	st := &countingDisk{Disk: newDisk(t)}
	for _, mv := range []string{"example.com/a@v1.0.0", "example.com/b@v1.0.0", "example.com/c@v1.0.0"} {
		add(t, st.Disk, mv, "", true, t0)
	}
	past := time.Now().Add(-time.Minute)
	for _, p := range []string{"example.com/a", "example.com/b", "example.com/c"} {
		vdir, err := modfiles.VersionDir(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(st.Root(), filepath.FromSlash(vdir)), past, past); err != nil {
			t.Fatal(err)
		}
	}
	c := built(t, st) // lists each directory once, and keeps their stamps
	before := st.lists.Load()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := st.lists.Load() - before; n != 0 {
		t.Errorf("a refresh of an unchanged store listed %d @v directories, want 0", n)
	}

	other, err := store.NewDisk(st.Root())
	if err != nil {
		t.Fatal(err)
	}
	add(t, other, "example.com/b@v1.1.0", "", true, t0)
	cdir, _ := modfiles.VersionDir("example.com/c")
	if err := os.RemoveAll(filepath.Join(st.Root(), filepath.Dir(filepath.FromSlash(cdir)))); err != nil {
		t.Fatal(err)
	}
	before = st.lists.Load()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// b's directory changed, and c's is gone (the refresh lists it to
	// confirm that before it drops c); a's is not listed.
	if n := st.lists.Load() - before; n != 2 {
		t.Errorf("a refresh after one module changed and one went away listed %d @v directories, want 2", n)
	}
	if m, err := c.Module(ctx, "example.com/b", ModuleOptions{}); err != nil || len(m.Versions) != 2 {
		t.Fatalf("example.com/b after the refresh: %v, %v; want 2 versions", m, err)
	}
	res, err := c.Search(ctx, Query{Q: "example.com/", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, m := range res.Modules {
		paths = append(paths, m.Path)
	}
	if !slices.Equal(paths, []string{"example.com/a", "example.com/b"}) {
		t.Errorf("after c was removed the index holds %v", paths)
	}
}
