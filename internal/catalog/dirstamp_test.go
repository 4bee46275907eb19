package catalog

import (
	"context"
	"os"
	"path/filepath"
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
