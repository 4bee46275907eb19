//go:build unix

package cacheimport_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/cacheimport"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
	modzip "golang.org/x/mod/zip"
)

// TestImportRefusesOddFiles checks that the small files of a module cache
// are read only when they are regular files of a sane size: a symlink to
// /dev/zero or a FIFO must not hang the import or exhaust its memory.
func TestImportRefusesOddFiles(t *testing.T) {
	ctx := context.Background()
	cache := cacheFrom(t)
	dl := filepath.Join(cache, "cache", "download")
	info := filepath.Join(dl, "modferry.test/lib/@v/v1.1.0.info")
	os.Remove(info)
	if err := os.Symlink("/dev/zero", info); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dl, "modferry.test/lib/@v/v1.2.0.mod")
	os.Remove(mod)
	if err := syscall.Mkfifo(mod, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	big := filepath.Join(dl, "modferry.test/dep/@v/v1.0.0.mod")
	if err := os.WriteFile(big, bytes.Repeat([]byte("// x\n"), modzip.MaxGoMod/5+1), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := store.NewDisk(t.TempDir())
	done := make(chan struct{})
	var res *cacheimport.Result
	var err error
	go func() {
		defer close(done)
		res, err = cacheimport.Import(ctx, &modules.Repo{Store: st}, cache, cacheimport.Options{})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the import hangs on a FIFO")
	}
	if err != nil {
		t.Fatal(err)
	}
	r := strings.Join(skipReasons(res.Skipped), "; ")
	for _, want := range []string{"modferry.test/lib@v1.2.0", "modferry.test/dep@v1.0.0"} {
		if !strings.Contains(r, want) {
			t.Errorf("skipped = %s; want %s", r, want)
		}
	}
	// The .info behind a symlink is not read: the version gets a minimal one.
	b, err := store.ReadAll(ctx, st, "download/modferry.test/lib/@v/v1.1.0.info")
	if err != nil || bytes.Contains(b, []byte{0}) || len(b) > 1<<10 {
		t.Errorf(".info of the version whose .info was a symlink: %d bytes, %v", len(b), err)
	}
}
