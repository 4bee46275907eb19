package proxy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
	"golang.org/x/mod/module"
)

// smallFile is an immutable store object kept in memory.
type smallFile struct {
	data    []byte
	etag    []string // header value, preallocated
	length  []string
	modTime time.Time
	kind    modfiles.Kind
	checked atomic.Int64  // when the store last confirmed the object (Unix ns)
	gen     atomic.Uint64 // the removal stamp's generation then (see removals)
}

// versionList is what @v/list and @latest answer for one module: the list
// file (releases and pre-releases, no pseudo-versions) and the version
// @latest names ("" when the module has no complete version).
type versionList struct {
	list   []byte
	latest string
	mtime  int64 // of the module's @v directory when it was listed (Unix ns)
}

// racyWindow: a listing is cached only if the @v directory last changed
// at least this long before the listing began. A file added within the
// filesystem's timestamp granularity after the listing could otherwise
// leave the directory's modification time unchanged, and the stale list
// cached for good (git's "racily clean" problem).
const racyWindow = 100 * time.Millisecond

// versions returns the module's version list. On a store in a local
// directory it is cached until the module's @v directory changes, which
// any import, publish, delete or prune of a version does, from this
// process or another; a stat of the directory replaces the listing, its
// sorting and a map per version (25 times the CPU of an .info answer for
// a module of 100 versions; bench/results/scale-notes.md).
func (h *Handler) versions(ctx context.Context, path string) (*versionList, error) {
	var dir string
	var mtime time.Time
	if h.lists != nil {
		name, err := modfiles.VersionDir(path)
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(h.repo.Store.(store.Local).Root(), filepath.FromSlash(name))
		if fi, err := os.Stat(dir); err == nil {
			mtime = fi.ModTime()
			if l, ok := h.lists.Get(path); ok && l.mtime == mtime.UnixNano() {
				return l, nil
			}
		}
	}
	start := time.Now()
	vs, err := h.repo.Versions(ctx, path)
	if err != nil {
		return nil, err
	}
	l := &versionList{latest: modules.ChooseLatest(vs), mtime: mtime.UnixNano()}
	l.list = modfiles.ListFile(slices.DeleteFunc(vs, module.IsPseudoVersion))
	if !mtime.IsZero() && start.Sub(mtime) >= racyWindow {
		h.lists.Put(path, l, len(path)+len(l.list)+len(l.latest)+64)
	}
	return l, nil
}
