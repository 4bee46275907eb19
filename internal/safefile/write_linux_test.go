package safefile

import (
	"bytes"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/modferry/modferry/internal/tinyfs"
)

// TestWriteFileDiskFull replaces a file on a 1 MiB filesystem with 2 MiB:
// the write fails with ENOSPC, and the old content and no temporary file
// are left.
func TestWriteFileDiskFull(t *testing.T) {
	tinyfs.Run(t, "TestHelperWriteFileDiskFull", 1<<20)
}

func TestHelperWriteFileDiskFull(t *testing.T) {
	dir := tinyfs.Dir()
	if dir == "" {
		t.Skip("run by TestWriteFileDiskFull")
	}
	name := filepath.Join(dir, "f")
	old := bytes.Repeat([]byte("old\n"), 25<<10)
	if err := WriteFile(name, old, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(name, bytes.Repeat([]byte("new\n"), 512<<10), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteFile of 2 MiB on a 1 MiB filesystem = %v, want ENOSPC", err)
	}
	checkOnly(t, dir, []string{"f"}, name, old)
}
