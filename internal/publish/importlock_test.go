package publish

import (
	"context"
	"errors"
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
