package bundle

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// A Stage receives member contents while Read streams a bundle. Nothing in
// a stage is trustworthy until Read has returned nil; on error the caller
// discards the stage.
type Stage interface {
	// Create returns a writer for the member name, a name that passed
	// ParseMemberPath. Read calls it at most once per name and closes the
	// writer before asking for the file back.
	Create(name string) (io.WriteCloser, error)
	// LocalPath returns the name of a local file holding the closed member
	// name, for checks that need a file (module zips).
	LocalPath(name string) (string, error)
}

// DirStage is a Stage that writes each member to the same path under a
// directory. Files are created exclusively, through an os.Root, so a member
// can never be written outside the directory or over another member.
type DirStage struct {
	dir  string
	root *os.Root
	// Sync makes Close of each staged file fsync it, for stages whose files
	// are later renamed into a store.
	Sync bool
}

// NewDirStage returns a stage writing under dir, creating dir if needed.
// Close releases it.
func NewDirStage(dir string) (*DirStage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &DirStage{dir: dir, root: root}, nil
}

// Dir returns the stage directory.
func (s *DirStage) Dir() string { return s.dir }

// Create implements Stage.
func (s *DirStage) Create(name string) (io.WriteCloser, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
	}
	if d := path.Dir(name); d != "." {
		if err := s.root.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &stagedFile{File: f, sync: s.Sync}, nil
}

// LocalPath implements Stage.
func (s *DirStage) LocalPath(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
	}
	return filepath.Join(s.dir, filepath.FromSlash(name)), nil
}

// Close releases the directory handle; the files stay.
func (s *DirStage) Close() error { return s.root.Close() }

type stagedFile struct {
	*os.File
	sync bool
}

func (f *stagedFile) Close() error {
	if f.sync {
		if err := f.File.Sync(); err != nil {
			f.File.Close()
			return err
		}
	}
	return f.File.Close()
}
