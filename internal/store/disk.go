package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/modferry/modferry/internal/safefile"
	"github.com/modferry/modferry/internal/scratch"
	"golang.org/x/sync/errgroup"
)

// Disk is a Store in a local directory. An object named "a/b/c" is the
// file ROOT/a/b/c, so ROOT/download is a GOPROXY directory that
// GOPROXY=file://ROOT/download serves without any server.
//
// Writes go through package safefile: to a temporary file in the
// destination directory, synced, renamed (Put) or hard-linked (Create)
// into place, and the directory synced, so that after a crash a name holds
// the old or the new content, never a part of either. Temporary files left
// by a crash carry TempPrefix and are never listed; CleanTemp removes them.
// A write holds its temporary file locked (package scratch) until it is
// renamed, so that cleaning never takes a write in progress for a
// leftover.
type Disk struct {
	root string
}

// NewDisk returns a Disk store rooted at dir, creating dir if needed.
func NewDisk(dir string) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Disk{root: abs}, nil
}

// Root implements Local: it returns the store's directory.
func (d *Disk) Root() string { return d.root }

// Lock implements Locker with a file lock on ROOT/NAME.lock (package
// safefile), which it creates if needed. On a read-only store it fails
// with an error matching safefile.ErrReadOnly.
func (d *Disk) Lock(ctx context.Context, name string) (func(), error) {
	if err := CheckName(name); err != nil || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%w %q: not a lock name", ErrBadName, name)
	}
	l, err := safefile.OpenDirLock(filepath.Join(d.root, name+".lock"))
	if err != nil {
		return nil, err
	}
	unlock, err := l.Lock(ctx, true)
	if err != nil {
		l.Close()
		return nil, err
	}
	return func() {
		unlock()
		l.Close()
	}, nil
}

// Path returns the file path of the named object.
func (d *Disk) Path(name string) string {
	return filepath.Join(d.root, filepath.FromSlash(name))
}

// Open implements Store. The returned File is an *os.File.
func (d *Disk) Open(ctx context.Context, name string) (File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(d.Path(name))
	if err != nil {
		return nil, notThere(err, name)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f, nil
}

// notThere makes an error that says a name is too long for the file
// system (a valid object name may be: a module path element can be longer
// than 255 bytes) say that the object does not exist, which it cannot
// here; other errors are returned as they are.
func notThere(err error, name string) error {
	if errors.Is(err, syscall.ENAMETOOLONG) {
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return err
}

// Put implements Store.
func (d *Disk) Put(ctx context.Context, name string, r io.Reader) error {
	return d.write(ctx, name, r, false)
}

// Create implements Store.
func (d *Disk) Create(ctx context.Context, name string, r io.Reader) error {
	return d.write(ctx, name, r, true)
}

func (d *Disk) write(ctx context.Context, name string, r io.Reader, exclusive bool) error {
	if err := CheckName(name); err != nil {
		return err
	}
	dst := d.Path(name)
	if exclusive {
		if _, err := os.Lstat(dst); err == nil {
			return &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := safefile.Create(dst, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if !exclusive {
		return f.Commit()
	}
	// The link of CommitNew fails if dst exists, which makes Create
	// race-free.
	err = f.CommitNew()
	if errors.Is(err, fs.ErrExist) {
		return &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
	}
	return err
}

// Delete implements Store.
func (d *Disk) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	p := d.Path(name)
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return safefile.SyncDir(filepath.Dir(p))
}

// List implements Store.
func (d *Disk) List(ctx context.Context, dir string) ([]string, error) {
	dir, err := CheckDir(dir)
	if err != nil {
		return nil, err
	}
	p := d.root
	if dir != "" {
		p = d.Path(dir)
	}
	ents, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) || errors.Is(err, syscall.ENAMETOOLONG) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, TempPrefix) {
			continue
		}
		switch {
		case e.IsDir():
			names = append(names, n+"/")
		case e.Type().IsRegular():
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// CleanTemp implements TempCleaner: it removes temporary files left by interrupted writes under dir
// (an object directory, "" for the whole store): those last modified
// before cutoff that no write holds (see package scratch). It returns how
// many it removed and the bytes freed.
func (d *Disk) CleanTemp(dir string, cutoff time.Time) (removed int, freed int64, err error) {
	root := d.root
	if dir != "" {
		root = d.Path(dir)
	}
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !e.IsDir() && strings.HasPrefix(e.Name(), TempPrefix) {
			n, ok, err := scratch.Remove(p, cutoff)
			if ok {
				removed++
				freed += n
			}
			return err
		}
		return nil
	})
	return removed, freed, err
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// MoveFiles implements Stager: it moves local files into place, in order, replacing previous
// objects. The files must be durable already (see SyncFS). Directories are
// not synced one by one: journaling filesystems apply renames in order, so
// a crash keeps a prefix of the moves, and one SyncFS afterwards makes them
// all durable. before, if set, runs before each move, which does not
// happen if before cancels ctx.
func (d *Disk) MoveFiles(ctx context.Context, moves []Move, before func(name string)) error {
	// The directories and the files' modes first, several at once (see
	// metadataWorkers); neither makes anything visible. Then the renames,
	// in order.
	seen := map[string]bool{}
	var dirs []string
	for _, m := range moves {
		if err := CheckName(m.Name); err != nil {
			return err
		}
		if dir := filepath.Dir(d.Path(m.Name)); !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(metadataWorkers)
	for _, dir := range dirs {
		g.Go(func() error { return os.MkdirAll(dir, 0o755) })
	}
	for _, m := range moves {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return os.Chmod(m.Src, 0o644)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, m := range moves {
		if err := ctx.Err(); err != nil {
			return err
		}
		if before != nil {
			before(m.Name)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := os.Rename(m.Src, d.Path(m.Name)); err != nil {
			return fmt.Errorf("committing %s: %w", m.Name, err)
		}
	}
	return nil
}

// PutBatch implements Batcher: every object goes to a temporary file
// first, one syncfs makes them durable, then each is renamed (or, for
// IfAbsent, hard-linked) into place in order, and a second syncfs makes the
// names durable. The temporary files are written several directories at
// once: on a journaling filesystem each create waits on the journal, and
// an import's proof writes hundreds of small files.
func (d *Disk) PutBatch(ctx context.Context, objs []Object) error {
	tmps := make([]string, len(objs))
	defer func() {
		for _, t := range tmps {
			if t != "" {
				os.Remove(t)
			}
		}
	}()
	byDir := map[string][]int{}
	var dirs []string
	for i, o := range objs {
		if err := CheckName(o.Name); err != nil {
			return err
		}
		dir := filepath.Dir(d.Path(o.Name))
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], i)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(metadataWorkers)
	for _, dir := range dirs {
		g.Go(func() error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, i := range byDir[dir] {
				if err := gctx.Err(); err != nil {
					return err
				}
				f, err := os.CreateTemp(dir, TempPrefix+"*")
				if err != nil {
					return err
				}
				tmps[i] = f.Name()
				_, err = f.Write(objs[i].Data)
				if err == nil {
					err = f.Chmod(0o644)
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("store: writing %s: %w", objs[i].Name, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(objs) == 0 {
		return nil
	}
	if err := SyncFS(d.root); err != nil {
		return err
	}
	for i, o := range objs {
		dst := d.Path(o.Name)
		var err error
		if o.IfAbsent {
			if err = os.Link(tmps[i], dst); errors.Is(err, fs.ErrExist) {
				err = nil
			}
		} else {
			err = os.Rename(tmps[i], dst)
		}
		if err != nil {
			return err
		}
	}
	return SyncFS(d.root)
}

// metadataWorkers bounds the goroutines that create files and
// directories at once: such calls mostly wait on the filesystem's
// journal, not on a core.
const metadataWorkers = 8

// Disk has every optional capability.
var (
	_ Local       = (*Disk)(nil)
	_ Stager      = (*Disk)(nil)
	_ Locker      = (*Disk)(nil)
	_ TempCleaner = (*Disk)(nil)
	_ Batcher     = (*Disk)(nil)
)
