package publish

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/storetest"
)

const lockModule = "corp.example/m"

// listFile returns the versions the module's @v/list file holds.
func listFile(t *testing.T, st store.Store) []string {
	t.Helper()
	name, _ := modfiles.ListName(lockModule)
	b, err := store.ReadAll(context.Background(), st, name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// publishVersion publishes lockModule at version into repo.
func publishVersion(t *testing.T, repo *modules.Repo, version string) error {
	t.Helper()
	m, err := FromDir(module.Version{Path: lockModule, Version: version},
		writeTree(t, map[string]string{"go.mod": "module " + lockModule + "\n", "m.go": "package m // " + version + "\n"}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return Publish(context.Background(), repo, m)
}

// raceImport imports a bundle of lockModule at version into repo's store
// and runs change, in another goroutine, once the import has planned its
// list file and before it commits anything, giving change 300 ms to
// finish before the import goes on: as much time as a change that does
// not wait for the import's lock needs to slip in between the import's
// plan and its commit. It returns once both are done.
func raceImport(t *testing.T, repo *modules.Repo, version string, change func() error) {
	t.Helper()
	key, pub := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, []bundletest.Module{{Path: lockModule, Version: version, Files: map[string][]byte{"m.go": []byte("package m\n")}}}, key)
	var once sync.Once
	changed := make(chan error, 1)
	o := importer.Options{Verify: bundletest.Verifier(pub), Actor: "test", CommitHook: func(string) {
		once.Do(func() {
			go func() { changed <- change() }()
			select {
			case err := <-changed:
				changed <- err
			case <-time.After(300 * time.Millisecond):
			}
		})
	}}
	if _, err := importer.Import(context.Background(), repo.Store, b, o); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
}

// TestPublishDuringImportKeepsList: a publish of another version of a
// module that an import is committing holds the import lock for its
// commit and list, so neither writer's list file drops the other's
// version.
func TestPublishDuringImportKeepsList(t *testing.T) {
	repo := newRepo(t)
	raceImport(t, repo, "v1.1.0", func() error { return publishVersion(t, repo, "v1.2.0") })
	want := []string{"v1.1.0", "v1.2.0"}
	if got := listFile(t, repo.Store); !slices.Equal(got, want) {
		t.Errorf("@v/list after an import and a publish at once = %v, want %v", got, want)
	}
}

// TestDeleteDuringImportKeepsList: a delete while an import commits
// another version of the module leaves a list file without the deleted
// version and with the imported one.
func TestDeleteDuringImportKeepsList(t *testing.T) {
	repo := newRepo(t)
	if err := publishVersion(t, repo, "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	gone := module.Version{Path: lockModule, Version: "v1.0.0"}
	raceImport(t, repo, "v1.1.0", func() error {
		return Delete(context.Background(), repo, gone, modules.GoneRecord{Reason: "test"})
	})
	want := []string{"v1.1.0"}
	if got := listFile(t, repo.Store); !slices.Equal(got, want) {
		t.Errorf("@v/list after an import and a delete at once = %v, want %v", got, want)
	}
}

// TestPublishWaitsBoundedForImport: a publish that finds the import lock
// held gives up after LockWait with an error matching store.ErrLockBusy
// that says to retry, and leaves nothing of the version behind.
func TestPublishWaitsBoundedForImport(t *testing.T) {
	if testing.Short() {
		t.Skip("waits LockWait")
	}
	repo := newRepo(t)
	held, err := store.LockImport(context.Background(), repo.Store, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	start := time.Now()
	err = publishVersion(t, repo, "v1.0.0")
	if took := time.Since(start); !errors.Is(err, store.ErrLockBusy) || !strings.Contains(err.Error(), "retry") || took > LockWait+5*time.Second {
		t.Fatalf("publish while an import holds the lock: %v after %s; want store.ErrLockBusy after about %s", err, took, LockWait)
	}
	held.Unlock()
	if err := publishVersion(t, repo, "v1.0.0"); err != nil {
		t.Fatalf("publish once the import is done (the first attempt must leave nothing behind): %v", err)
	}
}

// TestPublishLosingToImportLeavesItsVersion: an import that commits the
// version a publish is writing (the same go.mod, so the import goes
// ahead) replaces the publish's files; the publish then fails as the
// version exists, and leaves the import's version whole instead of
// removing the files it had written, which are the import's by then.
func TestPublishLosingToImportLeavesItsVersion(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	v := module.Version{Path: lockModule, Version: "v1.0.0"}
	m, err := FromDir(v, writeTree(t, map[string]string{"go.mod": "module " + lockModule + "\n", "m.go": "package m\n"}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	zipData, err := os.ReadFile(m.ZipPath)
	if err != nil {
		t.Fatal(err)
	}
	testHookBeforeCommit = func() {
		// The import's commit, in commit order, replacing what is there.
		err := repo.Add(ctx, v, modules.Files{Mod: bytes.NewReader(m.Mod), Zip: bytes.NewReader(zipData), ZipHash: m.Hash})
		if err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookBeforeCommit = nil }()
	if err := Publish(ctx, repo, m); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("publish of a version an import committed meanwhile: %v", err)
	}
	for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip, modfiles.ZipHash} {
		name, _ := modfiles.Name(v, k)
		if ok, err := store.Exists(ctx, repo.Store, name); err != nil || !ok {
			t.Errorf("%s of the imported version is gone after the publish failed (%v)", name, err)
		}
	}
	if pending, err := repo.Pending(ctx, v); err != nil || pending {
		t.Errorf("the publish intent is left: %v %v", pending, err)
	}
}

// stallOnGone is a lease store that stalls past its lease at the first
// write of a .gone record: the deleter is cut off from the store.
type stallOnGone struct {
	*storetest.LeaseMem
	once sync.Once
}

func (s *stallOnGone) Put(ctx context.Context, name string, r io.Reader) error {
	if strings.HasSuffix(name, ".gone") {
		s.once.Do(func() {
			s.Cut.Store(true)
			time.Sleep(s.TTL + 200*time.Millisecond)
		})
	}
	return s.LeaseMem.Put(ctx, name, r)
}

// TestDeleteStopsOnLostLease: a delete that loses its lease (S3) while it
// writes stops before its next write, saying so, and running it again
// once the store is back finishes it.
func TestDeleteStopsOnLostLease(t *testing.T) {
	ctx := context.Background()
	st := &stallOnGone{LeaseMem: storetest.NewLeaseMem(300 * time.Millisecond)}
	repo := &modules.Repo{Store: st}
	v := module.Version{Path: "corp.example/lease", Version: "v1.0.0"}
	if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module corp.example/lease\n"), Zip: strings.NewReader("zip")}); err != nil {
		t.Fatal(err)
	}
	rec := modules.GoneRecord{Actor: "t", Reason: "test"}
	err := Delete(ctx, repo, v, rec)
	if !errors.Is(err, store.ErrLockLost) || !strings.Contains(err.Error(), "the delete of "+v.String()+" stopped there") {
		t.Fatalf("delete across an outage longer than its lease: %v", err)
	}
	st.Cut.Store(false)
	if err := Delete(ctx, repo, v, rec); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	if vs, err := repo.List(ctx, v.Path); err != nil || len(vs) != 0 {
		t.Fatalf("list after the delete: %v, %v", vs, err)
	}
}
