package bundle

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's dirty pages to disk
// without waiting for them (sync_file_range SYNC_FILE_RANGE_WRITE), so
// that the sync which must precede moving staged files into a store finds
// little left to write. Errors are ignored: the later sync is what makes
// the data durable.
func startWriteback(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
