package importer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/tinyfs"
)

// TestImportDiskFull imports a 3 MB bundle into a store on a 1 MiB
// filesystem: the error must say the store's disk is full and how much
// the bundle needs, never that the bundle is corrupt, and the store must
// hold no module file.
func TestImportDiskFull(t *testing.T) {
	tinyfs.Run(t, "TestHelperImportDiskFull", 1<<20)
}

func TestHelperImportDiskFull(t *testing.T) {
	dir := tinyfs.Dir()
	if dir == "" {
		t.Skip("run by TestImportDiskFull")
	}
	key, pub := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst") // on the real disk
	bundletest.Write(t, b, bundletest.RandomModules(7, 6, 500<<10), key)
	st, err := store.NewDisk(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = importer.Import(context.Background(), st, b, opts(pub))
	t.Logf("import: %v", err)
	var nse *importer.NoSpaceError
	if !errors.As(err, &nse) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want a *NoSpaceError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "no space left on device in "+st.Root()) || nse.Need < 3_000_000 || !strings.Contains(msg, "bytes") {
		t.Errorf("message %q: want the store named and the bytes needed (need=%d)", msg, nse.Need)
	}
	if strings.Contains(msg, "corrupt") || errors.Is(err, bundle.ErrCorrupt) {
		t.Errorf("a full disk is reported as a corrupt bundle: %q", msg)
	}
	if ents, _ := os.ReadDir(filepath.Join(st.Root(), "download")); len(ents) != 0 {
		t.Errorf("the store holds module files after a failed import: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(st.Root(), importer.StagingDir)); len(ents) != 0 {
		t.Errorf("staging left behind: %v", ents)
	}
}

// TestImportCleansDeadStages: an import removes the stages that killed
// imports left (held by no process) but not one a live import holds.
func TestImportCleansDeadStages(t *testing.T) {
	key, pub := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, bundletest.RandomModules(3, 2, 1000), key)
	st := newStore(t)
	staging := filepath.Join(st.Root(), importer.StagingDir)
	dead := filepath.Join(staging, "stage-dead")
	os.MkdirAll(dead, 0o755)
	os.WriteFile(filepath.Join(dead, "m000000"), make([]byte, 4096), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(dead, old, old)
	live, release, err := scratch.MkdirTemp(staging, "stage-*")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	os.Chtimes(live, old, old)
	if _, err := importer.Import(context.Background(), st, b, opts(pub)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead stage survived the import: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live stage was removed: %v", err)
	}
}
