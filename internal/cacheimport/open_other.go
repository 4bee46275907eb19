//go:build !unix

package cacheimport

import "os"

// openRegular opens name for reading; the caller checks that what it
// opened is a regular file.
func openRegular(name string) (*os.File, error) { return os.Open(name) }
