package store_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/storetest"
)

func TestDiskContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		d, err := store.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestDiskCrashBeforeRename simulates a process killed after writing its
// temporary file and before the rename: nothing is visible, and CleanTemp
// removes the leftover.
func TestDiskCrashBeforeRename(t *testing.T) {
	ctx := context.Background()
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "m/@v/v1.0.0.info", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	// What a crash leaves: a complete temp file beside the target.
	leftover := filepath.Join(d.Root(), "m", "@v", store.TempPrefix+"123456")
	if err := os.WriteFile(leftover, []byte("half a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := d.List(ctx, "m/@v")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"v1.0.0.info"}) {
		t.Fatalf("List shows %q, want only v1.0.0.info", names)
	}
	// A write in progress holds its temporary file: never cleaned.
	live, err := scratch.CreateTemp(filepath.Join(d.Root(), "m", "@v"), store.TempPrefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if n, _, err := d.CleanTemp("", time.Now().Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("CleanTemp with a cutoff before the leftover removed %d files, %v", n, err)
	}
	if n, freed, err := d.CleanTemp("", time.Now().Add(time.Minute)); err != nil || n != 1 || freed != int64(len("half a zip")) {
		t.Fatalf("CleanTemp = %d, %d, %v; want the one leftover", n, freed, err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("CleanTemp left %s: %v", leftover, err)
	}
	if _, err := os.Stat(live.Name()); err != nil {
		t.Fatalf("CleanTemp removed a write in progress: %v", err)
	}
}

// TestDiskLayout pins the on-disk layout that GOPROXY=file:// relies on.
func TestDiskLayout(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, _ := store.NewDisk(root)
	if err := d.Put(ctx, "download/modferry.test/!upper/@v/list", strings.NewReader("v1.0.0\n")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "download", "modferry.test", "!upper", "@v", "list"))
	if err != nil || string(b) != "v1.0.0\n" {
		t.Fatalf("file layout: %q, %v", b, err)
	}
	fi, _ := os.Stat(filepath.Join(root, "download", "modferry.test", "!upper", "@v", "list"))
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", fi.Mode().Perm())
	}
}

// TestDiskLockNames checks that Disk's named locks are files at the
// store's top, and that a name that would lead elsewhere is refused.
func TestDiskLockNames(t *testing.T) {
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, bad := range []string{"", "a/b", "..", "../x", ".tmp-x"} {
		if unlock, err := d.Lock(ctx, bad); !errors.Is(err, store.ErrBadName) {
			if unlock != nil {
				unlock()
			}
			t.Errorf("Lock(%q) = %v, want ErrBadName", bad, err)
		}
	}
	unlock, err := d.Lock(ctx, "import")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(d.Root(), "import.lock")); err != nil {
		t.Errorf("the import lock is not ROOT/import.lock: %v", err)
	}
	// A second holder waits; with a context that ends, it gives up.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if u, err := d.Lock(short, "import"); err == nil {
		u()
		t.Error("a second Lock succeeded while the first was held")
	}
}

// TestDiskReadAll checks Disk's WholeReader against Open and read: same
// content, same "not there" for missing objects and directories.
func TestDiskReadAll(t *testing.T) {
	ctx := context.Background()
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789abcdef", 100_000)
	for name, content := range map[string]string{"a/empty": "", "a/small": "x\n", "a/b/big": big} {
		if err := d.Put(ctx, name, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		got, err := d.ReadAll(ctx, name)
		if err != nil || string(got) != content {
			t.Errorf("ReadAll(%s) = %d bytes, %v; want %d bytes", name, len(got), err, len(content))
		}
		got, err = store.ReadAll(ctx, d, name)
		if err != nil || string(got) != content {
			t.Errorf("store.ReadAll(%s) = %d bytes, %v", name, len(got), err)
		}
	}
	for _, name := range []string{"a/missing", "a/b", "a"} {
		if _, err := d.ReadAll(ctx, name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ReadAll(%s): %v, want not-exist", name, err)
		}
	}
	for _, name := range []string{"a/missing", "a/b", "a", "a/small/under"} {
		_, errOpen := d.Open(ctx, name)
		_, errRead := d.ReadAll(ctx, name)
		if errors.Is(errOpen, os.ErrNotExist) != errors.Is(errRead, os.ErrNotExist) {
			t.Errorf("%s: Open says %v, ReadAll %v", name, errOpen, errRead)
		}
	}
	if _, err := d.ReadAll(ctx, "../x"); !errors.Is(err, store.ErrBadName) {
		t.Errorf("ReadAll(../x): %v, want ErrBadName", err)
	}
}

// TestDiskNameTooLong: a valid name with an element longer than the file
// system allows (a module path element may be) is an object that does not
// exist, not an error: the proxy answers 404 for it, not 500.
func TestDiskNameTooLong(t *testing.T) {
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The walk must reach the long element: "download/" must exist.
	if err := d.Put(ctx, "download/x/@v/list", strings.NewReader("v1.0.0\n")); err != nil {
		t.Fatal(err)
	}
	long := "download/" + strings.Repeat("y", 300) + "/@v"
	if err := store.CheckName(long + "/list"); err != nil {
		t.Fatalf("the name is not valid (%v): the test proves nothing", err)
	}
	if _, err := d.Open(ctx, long+"/v1.0.0.info"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open: %v, want not exist", err)
	}
	if _, err := d.ReadAll(ctx, long+"/v1.0.0.info"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadAll: %v, want not exist", err)
	}
	if ok, err := store.Exists(ctx, d, long+"/v1.0.0.info"); ok || err != nil {
		t.Errorf("Exists: %v, %v; want false, nil", ok, err)
	}
	if names, err := d.List(ctx, long); len(names) != 0 || err != nil {
		t.Errorf("List: %v, %v; want nothing", names, err)
	}
}
