package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modferry/modferry/internal/safefile"
)

// A ZipCache keeps copies of module zips in a local directory, for a
// server whose store is kept elsewhere (S3): a zip served again comes from
// the local disk through sendfile instead of from the object store through
// a user-space copy. It only holds bytes; whether a zip may be served is
// decided by the Handler, which asks the store about the zip (or relies on
// the store's removal stamp) before every use of a copy, so that a deleted
// version is never served from the cache.
//
// A copy is named after the store name, the size and the modification
// time of the object it copies, so that a replaced object never finds the
// old copy; it is written to a temporary file, fsynced and renamed (package
// safefile), so that a crash never leaves a partial file under a copy's
// name, and its size is checked again when it is opened. Temporary files
// left by a crash are removed by OpenZipCache. The directory belongs to
// one process: OpenZipCache locks it. When the copies exceed the limit,
// the least recently used are removed.
type ZipCache struct {
	dir   string
	limit int64
	lock  *safefile.DirLock
	free  func()

	mu    sync.Mutex
	files map[string]*cachedZip // by file name
	total int64
	fills map[string]bool // file names being written
}

type cachedZip struct {
	size int64
	used time.Time
}

// OpenZipCache opens (creating it) the zip cache in dir, holding at most
// limit bytes of zips, and removes what a crash left there.
func OpenZipCache(dir string, limit int64) (*ZipCache, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("zip cache %s: the size limit must be positive", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("zip cache: %w", err)
	}
	lock, err := safefile.OpenDirLock(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("zip cache %s: %w", dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	free, err := lock.Lock(ctx, true)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("zip cache %s: in use by another process (each server needs its own directory): %w", dir, err)
	}
	c := &ZipCache{dir: dir, limit: limit, lock: lock, free: free, files: map[string]*cachedZip{}, fills: map[string]bool{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("zip cache: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, safefile.TempPrefix):
			// A copy being written when the process died.
			os.Remove(filepath.Join(dir, n))
		case isCopyName(n) && e.Type().IsRegular():
			fi, err := e.Info()
			if err != nil {
				continue
			}
			c.files[n] = &cachedZip{size: fi.Size(), used: fi.ModTime()}
			c.total += fi.Size()
		}
	}
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	return c, nil
}

// Close releases the directory.
func (c *ZipCache) Close() error {
	c.free()
	return c.lock.Close()
}

// Dir returns the cache's directory.
func (c *ZipCache) Dir() string { return c.dir }

// nameHash is the part of a copy's file name that stands for the store
// name: 32 hex digits of its SHA-256.
func nameHash(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:16])
}

// copyName is the file name of the copy of the object name of the given
// size and modification time: NAMEHASH-SIZE-MTIME, hexadecimal.
func copyName(name string, size int64, mod time.Time) string {
	return nameHash(name) + "-" + strconv.FormatInt(size, 16) + "-" + strconv.FormatInt(mod.UnixNano(), 16)
}

func isCopyName(n string) bool {
	h, _, ok := strings.Cut(n, "-")
	if !ok || len(h) != 32 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// Open returns the copy of the object name of the given size and
// modification time, if the cache has it whole.
func (c *ZipCache) Open(name string, size int64, mod time.Time) (*os.File, bool) {
	fn := copyName(name, size, mod)
	c.mu.Lock()
	z, ok := c.files[fn]
	if ok {
		z.used = time.Now()
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	f, err := os.Open(filepath.Join(c.dir, fn))
	if err == nil {
		if fi, serr := f.Stat(); serr == nil && fi.Mode().IsRegular() && fi.Size() == size {
			return f, true
		}
		f.Close()
	}
	// Removed behind the cache's back, or not whole (a file system that
	// lost the end of a copy in a crash): never served.
	c.mu.Lock()
	c.dropLocked(fn)
	c.mu.Unlock()
	return nil, false
}

// errFillRunning is Fill's error when another request is writing the same
// copy: the caller serves from the store this time.
var errFillRunning = errors.New("zip cache: the copy is being written by another request")

// Fill copies src, the object name of the given size and modification
// time, into the cache and returns the copy, open. A zip larger than the
// cache's limit is not copied (an error).
func (c *ZipCache) Fill(name string, size int64, mod time.Time, src io.Reader) (*os.File, error) {
	if size > c.limit {
		return nil, fmt.Errorf("zip cache: %s (%d bytes) is larger than the cache (%d bytes)", name, size, c.limit)
	}
	fn := copyName(name, size, mod)
	c.mu.Lock()
	if c.fills[fn] {
		c.mu.Unlock()
		return nil, errFillRunning
	}
	c.fills[fn] = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.fills, fn)
		c.mu.Unlock()
	}()
	path := filepath.Join(c.dir, fn)
	w, err := safefile.Create(path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("zip cache: %w", err)
	}
	defer w.Close()
	n, err := io.Copy(w, io.LimitReader(src, size+1))
	if err != nil {
		return nil, fmt.Errorf("zip cache: copying %s: %w", name, err)
	}
	if n != size {
		return nil, fmt.Errorf("zip cache: copying %s: got %d bytes, want %d", name, n, size)
	}
	if err := w.Commit(); err != nil {
		return nil, fmt.Errorf("zip cache: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zip cache: %w", err)
	}
	c.mu.Lock()
	if old, ok := c.files[fn]; ok {
		c.total -= old.size
	}
	c.files[fn] = &cachedZip{size: size, used: time.Now()}
	c.total += size
	c.evictLocked()
	c.mu.Unlock()
	return f, nil
}

// Remove removes every copy of the object name (a zip the store no
// longer has).
func (c *ZipCache) Remove(name string) {
	prefix := nameHash(name) + "-"
	c.mu.Lock()
	defer c.mu.Unlock()
	for fn := range c.files {
		if strings.HasPrefix(fn, prefix) {
			c.dropLocked(fn)
		}
	}
}

// Size returns the bytes of zips the cache holds.
func (c *ZipCache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

func (c *ZipCache) dropLocked(fn string) {
	if z, ok := c.files[fn]; ok {
		c.total -= z.size
		delete(c.files, fn)
	}
	// A request serving the copy keeps its open file.
	os.Remove(filepath.Join(c.dir, fn))
}

// evictLocked removes the least recently used copies until the cache
// fits its limit.
func (c *ZipCache) evictLocked() {
	if c.total <= c.limit {
		return
	}
	names := make([]string, 0, len(c.files))
	for fn := range c.files {
		names = append(names, fn)
	}
	slices.SortFunc(names, func(a, b string) int { return c.files[a].used.Compare(c.files[b].used) })
	for _, fn := range names {
		if c.total <= c.limit {
			return
		}
		c.dropLocked(fn)
	}
}
