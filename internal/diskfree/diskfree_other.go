//go:build !unix && !windows

package diskfree

import (
	"errors"
	"fmt"
)

// Available is not supported here.
func Available(path string) (int64, error) {
	return 0, fmt.Errorf("free space of %s: %w", path, errors.ErrUnsupported)
}
