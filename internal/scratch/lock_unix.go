//go:build unix

package scratch

import (
	"os"

	"golang.org/x/sys/unix"
)

// lock takes an exclusive flock on f without waiting.
func lock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}
