package bundle

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
	// Writeback makes Close of each staged file of writebackBytes or
	// more start writing it to disk, without waiting: for stages that are
	// synced as a whole before their files are moved into a store, so
	// that the disk writes run beside the rest of the read.
	Writeback bool

	mu    sync.Mutex
	files map[string]string // member name -> file name in dir
	// Members held in memory (KeepInMemory): their prefix, the bytes
	// they may take, the bytes they take, and their contents by member
	// name once closed.
	memPrefix string
	memLimit  int64
	memUsed   int64
	mem       map[string][]byte
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
	inMemory := s.memLimit > 0 && strings.HasPrefix(name, s.memPrefix)
	s.mu.Unlock()
	if inMemory {
		return &memFile{s: s, name: name, local: local}, nil
	}
	return s.create(local)
}

// create creates the staged file local.
func (s *DirStage) create(local string) (*stagedFile, error) {
	f, err := s.root.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &stagedFile{File: f, sync: s.Sync, writeback: s.Writeback}, nil
}

// KeepInMemory makes the stage hold the members whose names start with
// prefix in memory rather than in files, up to limit bytes in all (the
// member that would go over it, and the ones after it, go to files):
// members that are read back, never moved into a store, such as the
// checksum-database proofs, cost no file then. ReadFile returns them;
// LocalPath writes one to its file first. Call it before staging.
func (s *DirStage) KeepInMemory(prefix string, limit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memPrefix, s.memLimit = prefix, limit
	s.mem = map[string][]byte{}
}

// ReadFile returns the content of the closed member name, from memory
// (KeepInMemory) or from its file. The caller must not modify it.
func (s *DirStage) ReadFile(name string) ([]byte, error) {
	s.mu.Lock()
	data, ok := s.mem[name]
	s.mu.Unlock()
	if ok {
		return data, nil
	}
	local, err := s.LocalPath(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(local)
}

// memFile is a member staged in memory, up to the stage's limit; past it,
// it goes on in its file.
type memFile struct {
	s     *DirStage
	name  string
	local string
	buf   []byte
	file  *stagedFile // once spilled
}

func (m *memFile) Write(p []byte) (int, error) {
	if m.file != nil {
		return m.file.Write(p)
	}
	s := m.s
	s.mu.Lock()
	fits := s.memUsed+int64(len(p)) <= s.memLimit
	if fits {
		s.memUsed += int64(len(p))
	}
	s.mu.Unlock()
	if fits {
		m.buf = append(m.buf, p...)
		return len(p), nil
	}
	f, err := s.create(m.local)
	if err != nil {
		return 0, err
	}
	m.file = f
	if _, err := f.Write(m.buf); err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.memUsed -= int64(len(m.buf))
	s.mu.Unlock()
	m.buf = nil
	return f.Write(p)
}

func (m *memFile) Close() error {
	if m.file != nil {
		return m.file.Close()
	}
	m.s.mu.Lock()
	m.s.mem[m.name] = m.buf
	m.s.mu.Unlock()
	return nil
}

// LocalPath implements Stage. A member held in memory (KeepInMemory) is
// written to its file first.
func (s *DirStage) LocalPath(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	local, ok := s.files[name]
	if !ok {
		return "", fmt.Errorf("%q was not staged: %w", name, fs.ErrNotExist)
	}
	if data, ok := s.mem[name]; ok {
		f, err := s.create(local)
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
		delete(s.mem, name)
		s.memUsed -= int64(len(data))
	}
	return filepath.Join(s.dir, local), nil
}

// Close releases the directory handle; the files stay.
func (s *DirStage) Close() error { return s.root.Close() }

type stagedFile struct {
	*os.File
	sync      bool
	writeback bool
	n         int64 // bytes written
}

// writebackBytes is the size from which a staged file's Close starts its
// writeback (DirStage.Writeback): smaller files cost a system call more
// than they take the final sync.
const writebackBytes = 256 << 10

func (f *stagedFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.n += int64(n)
	return n, err
}

func (f *stagedFile) Close() error {
	if f.sync {
		if err := f.File.Sync(); err != nil {
			f.File.Close()
			return err
		}
	} else if f.writeback && f.n >= writebackBytes {
		startWriteback(f.File)
	}
	return f.File.Close()
}
