package proxy

import (
	"context"
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

// versions returns the module's version list. On a store in a local
// directory it is cached until the module's @v directory changes, which
// any import, publish, delete or prune of a version does, from this
// process or another; a stat of the directory replaces the listing, its
// sorting and a map per version (25 times the CPU of an .info answer for
// a module of 100 versions; bench/results/scale-notes.md).
func (h *Handler) versions(ctx context.Context, path string) (*versionList, error) {
	var stamp int64
	if h.lists != nil {
		name, err := modfiles.VersionDir(path)
		if err != nil {
			return nil, err
		}
		if s, ok := store.DirStamp(h.repo.Store, name); ok {
			stamp = s
			if l, ok := h.lists.Get(path); ok && l.mtime == stamp {
				return l, nil
			}
		}
	}
	start := time.Now()
	vs, err := h.repo.Versions(ctx, path)
	if err != nil {
		return nil, err
	}
	l := &versionList{latest: modules.ChooseLatest(vs), mtime: stamp}
	l.list = modfiles.ListFile(slices.DeleteFunc(vs, module.IsPseudoVersion))
	if store.StableStamp(stamp, start) {
		h.lists.Put(path, l, len(path)+len(l.list)+len(l.latest)+64)
	}
	return l, nil
}
