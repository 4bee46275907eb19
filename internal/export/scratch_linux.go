package export

import "golang.org/x/sys/unix"

// memoryScratch returns /dev/shm when it is a writable memory filesystem
// with at least 8 GiB free.
func memoryScratch() (string, bool) {
	const shm = "/dev/shm"
	var fs unix.Statfs_t
	if err := unix.Statfs(shm, &fs); err == nil && fs.Type == unix.TMPFS_MAGIC &&
		fs.Bavail*uint64(fs.Bsize) >= 8<<30 && unix.Access(shm, unix.W_OK) == nil {
		return shm, true
	}
	return "", false
}
