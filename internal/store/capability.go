package store

import (
	"context"
	"time"
)

// The interfaces below are optional capabilities of a Store, found by
// type assertion like Batcher. Callers must work without them: each one
// says what a caller does when the store lacks it. Disk has them all but
// AfterLister; a store kept elsewhere (an object store) needs none of them
// to be a complete Store.

// Local is implemented by stores kept in a directory of the local
// filesystem, where an object named "a/b" is the file Root()/a/b. Only
// what truly needs a directory asks for it: a GOPROXY=file:// path to
// print, free-space checks of the store's filesystem, and the scratch
// space that must share that filesystem (see Stager). Without it, callers
// keep their scratch files in a local temporary directory.
type Local interface {
	// Root returns the store's directory, an absolute path.
	Root() string
}

// Move is one file for Stager.MoveFiles.
type Move struct {
	Name string // object name
	Src  string // local file on the store's filesystem
}

// Stager is implemented by stores that can take files staged on their
// own filesystem (under Root) and move them into place by rename, so that
// committing a large import copies nothing. The caller writes the files,
// makes them durable (SyncFS of the staging directory), moves them, and
// makes the moves durable (SyncFS of Root). Without it, callers stage in
// any local directory and write each file through Put, in the same order.
type Stager interface {
	Local
	// MoveFiles moves local files into place, in order, replacing
	// previous objects. The files must be durable already. A crash keeps
	// a prefix of the moves. before, if set, runs before each move, which
	// does not happen if before cancels ctx.
	MoveFiles(ctx context.Context, moves []Move, before func(name string)) error
}

// Locker is implemented by stores that can hold a named lock across
// processes (a file lock for Disk), such as the import lock that keeps
// two imports from interleaving their commits. Without it, a caller
// excludes the other goroutines of its own process only, and what other
// processes do at the same time is up to the backend's conditional
// writes (Create, CompareAndSwapper).
type Locker interface {
	// Lock takes the exclusive lock called name (a valid object name
	// element, such as "import"), waiting until ctx is done for another
	// holder to let go, and returns the function that releases it.
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// TempCleaner is implemented by stores whose interrupted writes can
// leave temporary files behind (Disk, after a crash). Housekeeping calls
// it; a store without it leaves nothing to clean (an object store's
// upload is visible whole or not at all).
type TempCleaner interface {
	// CleanTemp removes the temporary files under dir ("" for the
	// whole store) last modified before cutoff that no write holds, and
	// returns how many it removed and the bytes freed.
	CleanTemp(dir string, cutoff time.Time) (removed int, freed int64, err error)
}

// WholeReader is implemented by stores that read a whole object in one
// call for less than Open, read and Close cost. Disk's, on Unix, makes
// four system calls where an *os.File makes ten (os.Open's
// non-blocking and poller set-up is for files that can block, which a
// regular file cannot). Without it, ReadAll opens and reads the object.
type WholeReader interface {
	// ReadAll returns the named object's content, or an error matching
	// fs.ErrNotExist if there is none.
	ReadAll(ctx context.Context, name string) ([]byte, error)
}

// AfterLister is implemented by stores that can list a directory from a
// given name on (an object store's listing takes a start key), so that
// the end of a long directory is found without listing its beginning.
// Without it, ListAfter lists the whole directory and cuts it.
type AfterLister interface {
	// ListAfter returns, as List would, the direct children of dir
	// whose names sort after after, sorted, at most limit of them (all
	// of them if limit <= 0).
	ListAfter(ctx context.Context, dir, after string, limit int) ([]string, error)
}
