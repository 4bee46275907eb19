//go:build !linux

package audit

// availBytes reports that the free space is unknown; Begin then relies on
// the write itself failing.
func availBytes(dir string) (int64, error) { return -1, nil }

// preallocate does nothing where fallocate(2) does not exist.
func preallocate(f logFile, off, n int64) error { return nil }
