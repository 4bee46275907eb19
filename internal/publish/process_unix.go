//go:build unix

package publish

import (
	"errors"
	"syscall"
)

// processGone reports whether no process pid runs on this host: kill(pid,
// 0) fails with ESRCH once it is gone.
func processGone(pid int) (gone, known bool) {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH), true
}
