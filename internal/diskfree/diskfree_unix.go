//go:build unix

package diskfree

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Available returns the bytes available to unprivileged users on the file
// system holding path.
func Available(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
