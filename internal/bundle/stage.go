package bundle

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// A Stage receives member contents while Read streams a bundle. Nothing in
// a stage is trustworthy until Read has returned nil; on error the caller
// discards the stage.
type Stage interface {
	// Create returns a writer for the member name, a name that passed
	// ParseMemberPath. Read calls it at most once per name and closes the
	// writer before asking for the file back; it may call Create and
	// LocalPath from several goroutines at once (module zips are staged
	// by the check workers).
	Create(name string) (io.WriteCloser, error)
	// LocalPath returns the name of a local file holding the closed member
	// name, for checks that need a file (module zips).
	LocalPath(name string) (string, error)
}

// DirStage is a Stage that writes each member to its own file in one
// flat directory, named by a counter rather than by the member name: no
// directory tree is built twice (once here, once in the store), and no
// member name can reach outside the directory. Files are created
// exclusively through an os.Root.
type DirStage struct {
	dir  string
	root *os.Root
	// Sync makes Close of each staged file fsync it, for stages whose files
	// are later renamed into a store.
	Sync bool

	mu    sync.Mutex
	files map[string]string // member name -> file name in dir
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
	return &DirStage{dir: dir, root: root, files: map[string]string{}}, nil
}

// Dir returns the stage directory.
func (s *DirStage) Dir() string { return s.dir }

// Create implements Stage.
func (s *DirStage) Create(name string) (io.WriteCloser, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
	}
	s.mu.Lock()
	if _, dup := s.files[name]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %q staged twice", ErrDuplicate, name)
	}
	local := fmt.Sprintf("m%06d", len(s.files))
	s.files[name] = local
	s.mu.Unlock()
	f, err := s.root.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &stagedFile{File: f, sync: s.Sync}, nil
}

// LocalPath implements Stage.
func (s *DirStage) LocalPath(name string) (string, error) {
	s.mu.Lock()
	local, ok := s.files[name]
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%q was not staged: %w", name, fs.ErrNotExist)
	}
	return filepath.Join(s.dir, local), nil
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
