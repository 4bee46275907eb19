package audit

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// availBytes returns the bytes an unprivileged writer may still use on
// the file system holding dir.
func availBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// preallocate gives f the disk blocks for n bytes from off without
// changing its size, so that appends into them cannot run out of space.
// File systems without fallocate(2), and files that are not regular
// files, are left to the free-space check.
func preallocate(f logFile, off, n int64) error {
	of, ok := f.(*os.File)
	if !ok {
		return nil
	}
	err := unix.Fallocate(int(of.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}
