// Package store holds modferry's objects: module files in the GOPROXY
// layout, checksum-database proofs, import history and other state.
//
// A Store maps slash-separated names such as
// "download/modferry.test/!upper/@v/v1.0.0.zip" to immutable byte strings.
// The interface is deliberately small and has no rename, so that an
// object store (S3 and the like) can implement it: Put and Create must make
// an object visible whole or not at all, and a reader never sees a partial
// object. Names are validated by CheckName; a backend must reject any
// other name.
//
// Errors that mean "no such object" match fs.ErrNotExist, and Create's
// "already there" matches fs.ErrExist, so callers use errors.Is.
//
// Everything beyond the five methods of Store is an optional capability,
// a small interface that callers find by type assertion and do without
// when a store lacks it; no caller requires a particular backend:
//
//   - Batcher: many small objects written with one durability barrier.
//     Without it, WriteBatch writes them one by one.
//   - Local: the store is a directory of the local filesystem (Root).
//     Wanted only for what needs a path: free-space checks, scratch
//     space on the store's own filesystem, GOPROXY=file:// hints.
//   - Stager: files staged under Root are moved into place by rename, in
//     order. Without it, an import stages in a local scratch directory
//     and writes each file through Put in the same order
//     (modfiles.CommitOrder, each version's .info last), so a version
//     still becomes visible only whole.
//   - Locker: a named lock held across processes (the import lock).
//     Without it, callers exclude their own process's goroutines only.
//     LockImport takes the import lock whatever the store has.
//   - LeaseLocker: the Locker's lock as a Lease that its holder checks
//     before its writes (S3), since a lease can be lost while held.
//   - TempCleaner: removing the temporary files that crashed writes
//     left. Without it there is nothing to clean.
//   - WholeReader: a whole object read in one call, for less than Open
//     and Read cost (ReadAll uses it). Without it, ReadAll opens the
//     object.
//   - CompareAndSwapper: replacing a small object only if nobody
//     replaced it since it was read (the checksum database's head, the
//     tokens through auth.StoreDoc). Disk, Mem and S3 have it.
//   - AfterLister: a listing from a given name on (an object store's
//     start key), so that the end of a long directory is found without
//     listing its beginning (the audit journal's last entry). Without
//     it, ListAfter lists the whole directory. S3 has it.
//   - Stater: an object's size and time without reading it (S3: a
//     HEAD). Without it, Stat and Exists open the object, which on a
//     disk is a stat of the open file. S3 has it.
//
// Disk has all of them but AfterLister and Stater (its List is one
// directory read, its Open a file open); Mem has Batcher and
// CompareAndSwapper only, so tests that use it run the paths of a store
// kept elsewhere.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/modferry/modferry/internal/safefile"
)

// File is an object opened for reading. *os.File satisfies it, which lets
// HTTP servers use the kernel's sendfile path for disk-backed stores.
type File interface {
	io.ReadSeekCloser
	Stat() (fs.FileInfo, error)
}

// Store is the storage every modferry component builds on.
type Store interface {
	// Open opens the named object for reading.
	Open(ctx context.Context, name string) (File, error)
	// Put writes the object atomically, replacing any previous content.
	Put(ctx context.Context, name string, r io.Reader) error
	// Create writes the object atomically unless it exists already, in
	// which case it returns an error matching fs.ErrExist and changes
	// nothing.
	Create(ctx context.Context, name string, r io.Reader) error
	// Delete removes the object. Deleting a missing object is not an error.
	Delete(ctx context.Context, name string) error
	// List returns the direct children of the directory dir ("" for the
	// root), sorted: objects by name, sub-directories with a trailing "/".
	// A missing directory lists as empty.
	List(ctx context.Context, dir string) ([]string, error)
}

// ErrBadName is returned for names that CheckName rejects.
var ErrBadName = errors.New("invalid object name")

// ErrUnavailable is matched by the errors of a store that cannot be
// reached for now (an object store's endpoint down, or answering 5xx): the
// same request may succeed later, without a restart. Servers answer such
// a failure 503 with Retry-After: UnavailableRetryAfter seconds.
var ErrUnavailable = errors.New("store unavailable")

// UnavailableRetryAfter is the Retry-After header value (seconds) of a 503
// answered because of ErrUnavailable.
const UnavailableRetryAfter = "5"

// MaxNameLen bounds object names.
const MaxNameLen = 1024

// CheckName reports whether name is a valid object name: non-empty,
// relative, slash-separated, with no empty, "." or ".." elements, no
// backslashes or NUL bytes, no element starting with ".tmp-" (reserved for
// backends' temporary files) and at most MaxNameLen bytes.
func CheckName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w %q: empty or too long", ErrBadName, name)
	}
	if strings.ContainsAny(name, "\\\x00") {
		return fmt.Errorf("%w %q: backslash or NUL", ErrBadName, name)
	}
	for elem := range strings.SplitSeq(name, "/") {
		switch {
		case elem == "" || elem == "." || elem == "..":
			return fmt.Errorf("%w %q: empty, . or .. element", ErrBadName, name)
		case strings.HasPrefix(elem, TempPrefix):
			return fmt.Errorf("%w %q: reserved element %q", ErrBadName, name, elem)
		}
	}
	return nil
}

// CheckDir is CheckName for directory arguments of List, where "" (the
// root) is allowed and a trailing slash is ignored.
func CheckDir(dir string) (string, error) {
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return "", nil
	}
	return dir, CheckName(dir)
}

// TempPrefix starts the names of temporary files that backends create
// while writing; List never returns them. It is package safefile's, through
// which Disk writes.
const TempPrefix = safefile.TempPrefix

// ReadAll reads a whole (small) object, through the store's WholeReader
// if it has one.
func ReadAll(ctx context.Context, s Store, name string) ([]byte, error) {
	if w, ok := s.(WholeReader); ok {
		return w.ReadAll(ctx, name)
	}
	f, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// ListAfter returns the direct children of dir that sort after after
// (List's names: sub-directories with a trailing "/"), sorted, at most
// limit of them if limit > 0: through the store's AfterLister if it has
// one, else from the whole List.
func ListAfter(ctx context.Context, s Store, dir, after string, limit int) ([]string, error) {
	if l, ok := s.(AfterLister); ok {
		return l.ListAfter(ctx, dir, after, limit)
	}
	names, err := s.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	i, found := slices.BinarySearch(names, after)
	if found {
		i++
	}
	names = names[i:]
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	return names, nil
}

// A Stater describes an object without reading it: its size and
// modification time (S3: a HEAD, where Open is a GET of the whole
// object).
type Stater interface {
	Stat(ctx context.Context, name string) (fs.FileInfo, error)
}

// Stat describes the named object: through s's Stater if it has one,
// else from an Open (for a file, a stat of the open file).
func Stat(ctx context.Context, s Store, name string) (fs.FileInfo, error) {
	if st, ok := s.(Stater); ok {
		return st.Stat(ctx, name)
	}
	f, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// Exists reports whether the named object exists, without reading it
// (Stat).
func Exists(ctx context.Context, s Store, name string) (bool, error) {
	_, err := Stat(ctx, s, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// Object is one object of a batch write.
type Object struct {
	Name string
	Data []byte
	// IfAbsent leaves an existing object alone (Create without the
	// error); otherwise the object is replaced (Put).
	IfAbsent bool
}

// Batcher is implemented by stores that can write many small objects
// with one durability barrier instead of one per object.
type Batcher interface {
	// PutBatch writes each object atomically, in order; all are durable
	// when it returns.
	PutBatch(ctx context.Context, objs []Object) error
}

// WriteBatch writes objs through s's PutBatch if it has one, else one by
// one with Put and Create.
func WriteBatch(ctx context.Context, s Store, objs []Object) error {
	if b, ok := s.(Batcher); ok {
		return b.PutBatch(ctx, objs)
	}
	for _, o := range objs {
		if err := putObject(ctx, s, o); err != nil {
			return err
		}
	}
	return nil
}

// WriteGroups writes groups of objects, each group after the one before
// it, the objects of a group in any order: a Batcher gets them all as one
// batch (in order, with its one durability barrier), any other store
// through Put and Create, Workers at once within a group, since one at a
// time an object store spends a round trip on each. It returns the error
// of the first object (in order) that failed.
func WriteGroups(ctx context.Context, s Store, groups ...[]Object) error {
	if b, ok := s.(Batcher); ok {
		var all []Object
		for _, g := range groups {
			all = append(all, g...)
		}
		return b.PutBatch(ctx, all)
	}
	for _, g := range groups {
		err := Each(ctx, len(g), func(ctx context.Context, i int) error { return putObject(ctx, s, g[i]) })
		if err != nil {
			return err
		}
	}
	return nil
}

// putObject writes o through Put, or Create if o.IfAbsent.
func putObject(ctx context.Context, s Store, o Object) error {
	if o.IfAbsent {
		err := s.Create(ctx, o.Name, bytes.NewReader(o.Data))
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return s.Put(ctx, o.Name, bytes.NewReader(o.Data))
}
