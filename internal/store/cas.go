package store

import (
	"context"
	"errors"
	"io"
)

// ErrChanged is returned by PutIf when the object no longer has the
// version the caller read (or exists when the caller expected none).
var ErrChanged = errors.New("object changed since it was read")

// CompareAndSwapper is implemented by stores that can replace an object
// only if nobody replaced it since the caller read it: optimistic
// concurrency for a small object that several writers read, modify and
// write back (the checksum database's head, which must only move
// forward), with no lock server. Disk holds a file lock while it
// compares and renames; S3 sends If-Match with the object's ETag.
type CompareAndSwapper interface {
	// Get reads the whole (small) object and returns its version, an
	// opaque non-empty string that callers only pass back to PutIf. A
	// missing object is an error matching fs.ErrNotExist.
	Get(ctx context.Context, name string) (data []byte, version string, err error)
	// PutIf writes the object atomically if its current version is
	// version, or, with version "", if it does not exist. Otherwise it
	// changes nothing and returns an error matching ErrChanged. It
	// returns the version of what it wrote. Writers of an object kept
	// this way must all use PutIf: a plain Put is not ordered with it.
	PutIf(ctx context.Context, name string, r io.Reader, version string) (newVersion string, err error)
}
