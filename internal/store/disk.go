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
)

// Disk is a Store in a local directory. An object named "a/b/c" is the
// file ROOT/a/b/c, so ROOT/download is a GOPROXY directory that
// GOPROXY=file://ROOT/download serves without any server.
//
// Writes go to a temporary file in the destination directory, are synced,
// and are renamed (Put) or hard-linked (Create) into place; the directory
// is then synced, so that after a crash a name holds the old or the new
// content, never a part of either. Temporary files left by a crash carry
// TempPrefix and are never listed; CleanTemp removes them.
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

// Root returns the store's directory.
func (d *Disk) Root() string { return d.root }

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
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f, nil
}

// Put implements Store.
func (d *Disk) Put(ctx context.Context, name string, r io.Reader) error {
	return d.write(ctx, name, r, false)
}

// Create implements Store.
func (d *Disk) Create(ctx context.Context, name string, r io.Reader) error {
	return d.write(ctx, name, r, true)
}

func (d *Disk) write(ctx context.Context, name string, r io.Reader, exclusive bool) (err error) {
	if err := CheckName(name); err != nil {
		return err
	}
	dst := d.Path(name)
	dir := filepath.Dir(dst)
	if exclusive {
		if _, err := os.Lstat(dst); err == nil {
			return &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("store: writing %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if exclusive {
		// link fails if dst exists, which makes Create race-free.
		err = os.Link(tmp.Name(), dst)
		os.Remove(tmp.Name())
		if errors.Is(err, fs.ErrExist) {
			return &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
		}
	} else {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
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
	return syncDir(filepath.Dir(p))
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
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
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

// CleanTemp removes temporary files left by interrupted writes under dir
// (an object directory, "" for the whole store).
func (d *Disk) CleanTemp(dir string) error {
	root := d.root
	if dir != "" {
		root = d.Path(dir)
	}
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !e.IsDir() && strings.HasPrefix(e.Name(), TempPrefix) {
			return os.Remove(p)
		}
		return nil
	})
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
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

// MoveFile moves the local file src, which must be on the store's
// filesystem and already synced, into place as the named object,
// replacing any previous one, and syncs the directory. It is the fast path
// for committing files staged beside the store.
func (d *Disk) MoveFile(ctx context.Context, name, src string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	dst := d.Path(name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(src, 0o644); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}
