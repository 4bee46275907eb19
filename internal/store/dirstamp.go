package store

import (
	"os"
	"path/filepath"
	"time"
)

// DirStamp returns the modification time (Unix ns) of the directory dir
// (an object directory such as "example.com/m/@v") of a store in a local
// directory (Local), and false for any other store or when it cannot be
// read. Adding, removing or renaming an entry changes it, which every
// import, publish, delete and prune of a version does, from any process:
// while the stamp is unchanged, a listing of dir is too, and one stat
// replaces listing it again.
//
// A listing is matched to a stamp only if it began RacyWindow or more
// after the stamp (StableStamp): an entry added within the filesystem's
// timestamp granularity could otherwise leave the stamp unchanged (git's
// "racily clean" problem). ext4 and XFS record nanoseconds, but ext3 and
// HFS+ whole seconds and FAT/exFAT two: a stamp of a whole second gets
// CoarseRacyWindow.
func DirStamp(st Store, dir string) (int64, bool) {
	l, ok := st.(Local)
	if !ok {
		return 0, false
	}
	fi, err := os.Stat(filepath.Join(l.Root(), filepath.FromSlash(dir)))
	if err != nil || !fi.IsDir() {
		return 0, false
	}
	return fi.ModTime().UnixNano(), true
}

// RacyWindow and CoarseRacyWindow: see DirStamp.
const (
	RacyWindow       = 100 * time.Millisecond
	CoarseRacyWindow = 2 * time.Second
)

// StableStamp reports whether a listing that began at start may be
// matched to stamp (see DirStamp).
func StableStamp(stamp int64, start time.Time) bool {
	window := RacyWindow
	if stamp%int64(time.Second) == 0 {
		// A whole second: a filesystem that may record no finer (or
		// one time in a billion, a fine one): the wider window.
		window = CoarseRacyWindow
	}
	return stamp != 0 && start.Sub(time.Unix(0, stamp)) >= window
}
