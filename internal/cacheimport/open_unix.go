//go:build unix

package cacheimport

import (
	"os"
	"syscall"
)

// openRegular opens name for reading without following a symlink and
// without blocking on a FIFO (a file swapped in after its Lstat); the
// caller checks that what it opened is a regular file.
func openRegular(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
