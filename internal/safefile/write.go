package safefile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/modferry/modferry/internal/scratch"
)

// TempPrefix begins the name of every temporary file Create makes. Package
// store reserves the names that start with it: it never lists them, and
// removes those a crash left behind.
const TempPrefix = ".tmp-"

// closeBeforePlace says whether the temporary file must be closed before
// it is renamed, linked or removed: Windows refuses to while it is open
// (Go opens files without FILE_SHARE_DELETE). Elsewhere it stays open, and
// so locked against cleaning, until it has its final name.
const closeBeforePlace = runtime.GOOS == "windows"

// File is new content for a file, put in place atomically by Commit (see
// the package documentation). Close abandons it unless it was committed,
// so a deferred Close cleans up on every error path.
type File struct {
	name string
	perm os.FileMode
	tmp  *os.File
	done bool // committed or abandoned
}

// Create starts new content of mode perm for the file name, in a
// temporary file in name's directory, which must exist.
func Create(name string, perm os.FileMode) (*File, error) {
	tmp, err := scratch.CreateTemp(filepath.Dir(name), TempPrefix+"*")
	if err != nil {
		return nil, err
	}
	return &File{name: name, perm: perm, tmp: tmp}, nil
}

// Write writes to the new content.
func (f *File) Write(p []byte) (int, error) { return f.tmp.Write(p) }

// ReadFrom implements io.ReaderFrom, so that io.Copy from a file may copy
// within the kernel.
func (f *File) ReadFrom(r io.Reader) (int64, error) { return f.tmp.ReadFrom(r) }

// Commit gives the file its mode, fsyncs it, renames it over name and
// fsyncs the directory. If it fails before the rename, the temporary file
// is removed and name is unchanged; if it fails after (syncing the
// directory), name may hold either content.
func (f *File) Commit() error { return f.commit(false) }

// CommitNew is Commit for a file that must not exist yet: it hard-links
// the content to name instead of renaming it, which fails with an error
// matching fs.ErrExist if name exists (however close the race with another
// writer) and leaves that file as it is.
func (f *File) CommitNew() error { return f.commit(true) }

func (f *File) commit(link bool) error {
	if f.done {
		return fmt.Errorf("safefile: committing %s: %w", f.name, os.ErrClosed)
	}
	f.done = true
	tmp := f.tmp.Name()
	err := f.tmp.Chmod(f.perm)
	if err == nil {
		err = f.tmp.Sync()
	}
	if closeBeforePlace {
		if cerr := f.tmp.Close(); err == nil {
			err = cerr
		}
	}
	placed := false
	if err == nil {
		if link {
			err = os.Link(tmp, f.name)
		} else {
			err = os.Rename(tmp, f.name)
		}
		placed = err == nil
	}
	if !closeBeforePlace {
		if cerr := f.tmp.Close(); err == nil {
			err = cerr
		}
	}
	if !placed || link {
		os.Remove(tmp)
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(f.name))
}

// Close abandons the content unless it was committed: it closes and
// removes the temporary file and leaves name as it was. After Commit or
// CommitNew it does nothing.
func (f *File) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	f.tmp.Close()
	return os.Remove(f.tmp.Name())
}

// Write replaces the file name with what r yields, atomically (Create,
// copy, Commit), and returns the number of bytes written.
func Write(name string, r io.Reader, perm os.FileMode) (int64, error) {
	f, err := Create(name, perm)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.Copy(f, r)
	if err != nil {
		return n, err
	}
	return n, f.Commit()
}

// WriteFile replaces the file name with data, atomically (Create, write,
// Commit). It is os.WriteFile for files a reader may see.
func WriteFile(name string, data []byte, perm os.FileMode) error {
	f, err := Create(name, perm)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// SyncDir fsyncs a directory, making renames in it durable. Windows
// cannot flush a directory handle (NTFS journals renames itself).
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
