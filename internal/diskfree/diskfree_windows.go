package diskfree

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// Available returns the bytes available to this user on the volume
// holding path.
func Available(path string) (int64, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, err
	}
	var free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, nil, nil); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", path, err)
	}
	return int64(free), nil
}
