package scratch

import (
	"os"

	"golang.org/x/sys/windows"
)

// lock takes an exclusive lock on f without waiting: LockFileEx on one
// byte far beyond any data, so that the lock hides nothing from readers.
// Windows cannot lock a directory; a directory in use is kept from removal
// by the open handles inside it.
func lock(f *os.File) error {
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil
	}
	ol := &windows.Overlapped{Offset: 0xFFFFFFFF, OffsetHigh: 0x7FFFFFFF}
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}
