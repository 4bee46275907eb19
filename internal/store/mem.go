package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mem is a Store in memory, for tests. Its zero value is an empty store
// ready to use. Objects are never modified in place: a write replaces the
// whole byte slice, so readers opened earlier keep what they opened. It
// implements Batcher and CompareAndSwapper.
type Mem struct {
	mu   sync.RWMutex
	objs map[string]memObject
	seq  uint64 // numbers the writes: an object's version
}

type memObject struct {
	data    []byte
	modTime time.Time
	version uint64
}

// NewMem returns an empty Mem.
func NewMem() *Mem { return new(Mem) }

// Open implements Store.
func (m *Mem) Open(ctx context.Context, name string) (File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	o, ok := m.objs[name]
	m.mu.RUnlock()
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{Reader: bytes.NewReader(o.data), info: memInfo{path.Base(name), o}}, nil
}

// Put implements Store.
func (m *Mem) Put(ctx context.Context, name string, r io.Reader) error {
	_, err := m.write(ctx, name, r, func(memObject, bool) error { return nil })
	return err
}

// Create implements Store.
func (m *Mem) Create(ctx context.Context, name string, r io.Reader) error {
	_, err := m.write(ctx, name, r, func(_ memObject, exists bool) error {
		if exists {
			return &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
		}
		return nil
	})
	return err
}

// write reads r whole, then, holding the lock, stores it as name unless
// check, given the current object, refuses. It returns the new version.
func (m *Mem) write(ctx context.Context, name string, r io.Reader, check func(cur memObject, exists bool) error) (uint64, error) {
	if err := CheckName(name); err != nil {
		return 0, err
	}
	data, err := io.ReadAll(ctxReader{ctx, r})
	if err != nil {
		return 0, fmt.Errorf("store: writing %s: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.objs[name]
	if err := check(cur, exists); err != nil {
		return 0, err
	}
	return m.setLocked(name, data), nil
}

func (m *Mem) setLocked(name string, data []byte) uint64 {
	if m.objs == nil {
		m.objs = map[string]memObject{}
	}
	m.seq++
	m.objs[name] = memObject{data: data, modTime: time.Now(), version: m.seq}
	return m.seq
}

// Delete implements Store.
func (m *Mem) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objs, name)
	m.mu.Unlock()
	return nil
}

// List implements Store.
func (m *Mem) List(ctx context.Context, dir string) ([]string, error) {
	dir, err := CheckDir(dir)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	seen := map[string]bool{}
	m.mu.RLock()
	for name := range m.objs {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	m.mu.RUnlock()
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// PutBatch implements Batcher: the objects are written in order under one
// lock.
func (m *Mem) PutBatch(ctx context.Context, objs []Object) error {
	for _, o := range objs {
		if err := CheckName(o.Name); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range objs {
		if _, exists := m.objs[o.Name]; exists && o.IfAbsent {
			continue
		}
		m.setLocked(o.Name, bytes.Clone(o.Data))
	}
	return nil
}

// Get implements CompareAndSwapper.
func (m *Mem) Get(ctx context.Context, name string) ([]byte, string, error) {
	if err := CheckName(name); err != nil {
		return nil, "", err
	}
	m.mu.RLock()
	o, ok := m.objs[name]
	m.mu.RUnlock()
	if !ok {
		return nil, "", &fs.PathError{Op: "get", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(o.data), strconv.FormatUint(o.version, 10), nil
}

// PutIf implements CompareAndSwapper.
func (m *Mem) PutIf(ctx context.Context, name string, r io.Reader, version string) (string, error) {
	v, err := m.write(ctx, name, r, func(cur memObject, exists bool) error {
		if exists != (version != "") || exists && strconv.FormatUint(cur.version, 10) != version {
			return &fs.PathError{Op: "putif", Path: name, Err: ErrChanged}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(v, 10), nil
}

// memFile is an open Mem object.
type memFile struct {
	*bytes.Reader
	info memInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

// memInfo describes a Mem object.
type memInfo struct {
	name string
	o    memObject
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return int64(len(i.o.data)) }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return i.o.modTime }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
