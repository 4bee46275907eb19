package safefile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestDirLockExcludes checks that an exclusive lock held through one
// DirLock keeps another DirLock on the same file (another open file, as
// another process would have) waiting, and that shared locks coexist.
func TestDirLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := OpenDirLock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenDirLock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if fi, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("lock file: %v, %v", fi, err)
	}

	ctx := context.Background()
	unlock, err := a.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shared lock while exclusive held: %v, want deadline exceeded", err)
	}
	unlock()

	ua, err := a.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	short2, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	ub, err := b.Lock(short2, false)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	ub()
	ua()
	if u, err := b.Lock(ctx, true); err != nil {
		t.Fatalf("exclusive lock after release: %v", err)
	} else {
		u()
	}
}
