//go:build !linux

package export

// memoryScratch reports no memory filesystem: outside Linux, exports use
// the system temporary directory.
func memoryScratch() (string, bool) { return "", false }
