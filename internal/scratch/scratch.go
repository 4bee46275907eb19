// Package scratch creates the temporary files and directories of
// operations that are running, and removes those that crashed processes
// left behind.
//
// A live scratch file or directory is held with an exclusive flock(2) by
// the process that made it, for as long as it is in use; the kernel drops
// the lock when that process exits, however it exits (kill -9 included).
// Clean therefore removes an entry only if it can take the lock itself and
// the entry is older than a cutoff — the start of the oldest operation
// still running in the cleaning process — so that neither another
// process's work nor a file between its creation and its locking is
// touched.
package scratch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CreateTemp is os.CreateTemp for a file held locked until it is closed.
func CreateTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, nil
}

// Hold locks the existing file or directory name until release is called.
func Hold(name string) (release func(), err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// MkdirTemp is os.MkdirTemp for a directory held locked until release is
// called; release does not remove it.
func MkdirTemp(dir, pattern string) (name string, release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	name, err = os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", nil, err
	}
	release, err = Hold(name)
	if err != nil {
		os.Remove(name)
		return "", nil, err
	}
	return name, release, nil
}

// Clean removes the entries of dir whose base names match pattern
// (filepath.Match), that were last modified before cutoff and that no
// process holds, directories with their contents. It returns what it
// removed and the bytes freed. A missing dir is not an error.
func Clean(dir, pattern string, cutoff time.Time) (removed []string, freed int64, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	for _, e := range ents {
		if ok, _ := filepath.Match(pattern, e.Name()); !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		n, ok, err := Remove(p, cutoff)
		if err != nil {
			return removed, freed, err
		}
		if ok {
			removed = append(removed, p)
			freed += n
		}
	}
	return removed, freed, nil
}

// Remove removes the file or directory p if it was last modified before
// cutoff and no process holds it, and returns the bytes freed and whether
// it removed p.
func Remove(p string, cutoff time.Time) (int64, bool, error) {
	fi, err := os.Lstat(p)
	if err != nil || !fi.ModTime().Before(cutoff) || fi.Mode()&fs.ModeSymlink != 0 {
		return 0, false, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, false, nil
	}
	defer f.Close()
	if lock(f) != nil {
		return 0, false, nil // held: a live operation
	}
	size := fi.Size()
	if fi.IsDir() {
		size = 0
		filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if i, err := d.Info(); err == nil {
					size += i.Size()
				}
			}
			return nil
		})
	}
	if err := os.RemoveAll(p); err != nil {
		return 0, false, err
	}
	return size, true, nil
}
