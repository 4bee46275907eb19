package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/cork"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// zipFact is what the store confirmed about a zip of a complete version:
// its size and modification time, in generation gen of the removal stamp.
type zipFact struct {
	size    int64
	modTime time.Time
	gen     uint64
	checked int64 // Unix ns
}

// trusted reports whether the fact may be used without asking the store.
func (h *Handler) trusted(ctx context.Context, z *zipFact) bool {
	age := time.Duration(time.Now().UnixNano() - z.checked)
	if age < h.recheck {
		return true
	}
	if age >= h.maxAge {
		return false
	}
	gen, ok := h.removals.current(ctx)
	return ok && gen == z.gen
}

// serveZip serves a zip on a store with the removal stamp. A zip the store
// confirmed (it exists, its version is complete: its .info exists and no
// publish of it is pending) is served without asking again while the
// stamp is unchanged, up to MaxAge; from the zip cache when there is one,
// else streamed from the store.
func (h *Handler) serveZip(ctx context.Context, w http.ResponseWriter, r *http.Request, req modfiles.Request) {
	name, err := modfiles.Name(req.Version, modfiles.Zip)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if z, ok := h.zips.Get(name); ok && h.trusted(ctx, z) {
		if h.zipCache != nil {
			f, ok := h.zipCache.Open(name, z.size, z.modTime)
			if !ok {
				// Evicted, or never copied: copy it now.
				f, err = h.fill(ctx, name, z.size, z.modTime)
				ok = err == nil
			}
			if ok {
				defer f.Close()
				h.zipServed.Add(1)
				serveZipContent(w, r, z.size, z.modTime, f)
				return
			}
		}
		if f, err := h.repo.Store.Open(ctx, name); err == nil {
			defer f.Close()
			if fi, err := f.Stat(); err == nil && fi.Size() == z.size && fi.ModTime().Equal(z.modTime) {
				serveZipContent(w, r, fi.Size(), fi.ModTime(), f)
				return
			}
		}
		// Changed under the fact: ask the store again.
	}

	gen := h.generation(ctx)
	var f store.File // the zip opened from the store, if it was
	var fi fs.FileInfo
	if h.zipCache != nil {
		fi, err = h.stat.Stat(ctx, name)
	} else if f, err = h.repo.Store.Open(ctx, name); err == nil {
		fi, err = f.Stat()
	}
	complete := false
	if err == nil {
		// A version being published (or whose publish was interrupted)
		// is not served in part: its .info comes last.
		pending, perr := h.repo.Pending(ctx, req.Version)
		if perr == nil && pending {
			perr = &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		err = perr
		if err == nil {
			complete, err = h.exists(ctx, req.Version, modfiles.Info)
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		h.zips.Delete(name)
		if h.zipCache != nil && errors.Is(err, fs.ErrNotExist) {
			h.zipCache.Remove(name)
		}
		h.fail(w, req, err)
		return
	}
	if f != nil {
		defer f.Close()
	}
	if complete && gen != 0 {
		// Only a complete version is trusted for long: until its .info
		// is written, a publish may still be rolled back.
		h.zips.Put(name, &zipFact{size: fi.Size(), modTime: fi.ModTime(), gen: gen, checked: time.Now().UnixNano()}, len(name)+64)
	}
	if h.zipCache != nil {
		cf, ok := h.zipCache.Open(name, fi.Size(), fi.ModTime())
		if !ok {
			cf, err = h.fill(ctx, name, fi.Size(), fi.ModTime())
		}
		if err == nil {
			defer cf.Close()
			h.zipServed.Add(1)
			serveZipContent(w, r, fi.Size(), fi.ModTime(), cf)
			return
		}
		if !errors.Is(err, errFillRunning) {
			h.log.Warn("zip cache: serving from the store", "zip", name, "err", err)
		}
		// Serve from the store this time.
		if f, err = h.repo.Store.Open(ctx, name); err != nil {
			h.fail(w, req, err)
			return
		}
		defer f.Close()
		if fi, err = f.Stat(); err != nil {
			h.fail(w, req, err)
			return
		}
	}
	serveZipContent(w, r, fi.Size(), fi.ModTime(), f)
}

// exists reports whether the version's file of the given kind exists,
// with a Stat (a HEAD) when the store has it.
func (h *Handler) exists(ctx context.Context, v module.Version, kind modfiles.Kind) (bool, error) {
	name, err := modfiles.Name(v, kind)
	if err != nil {
		return false, err
	}
	if h.stat == nil {
		return store.Exists(ctx, h.repo.Store, name)
	}
	_, err = h.stat.Stat(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// fillTimeout bounds the copy of one zip into the zip cache.
const fillTimeout = 10 * time.Minute

// fill copies the zip from the store into the zip cache. The copy must be
// the object of the size and time given; one that changed since fails the
// fill.
func (h *Handler) fill(ctx context.Context, name string, size int64, mod time.Time) (*os.File, error) {
	// A copy begun is finished even if the client goes away: the next
	// request for the zip finds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fillTimeout)
	defer cancel()
	f, err := h.repo.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	got, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if got.Size() != size || !got.ModTime().Equal(mod) {
		return nil, fmt.Errorf("%s changed while it was looked at", name)
	}
	return h.zipCache.Fill(name, size, mod, f)
}

// serveZipContent answers with the zip content, which http.ServeContent
// sends with sendfile when it is an *os.File.
func serveZipContent(w http.ResponseWriter, r *http.Request, size int64, mod time.Time, content io.ReadSeeker) {
	hd := w.Header()
	hd["Content-Type"] = hdrZip
	hd["Cache-Control"] = hdrImmutable
	hd["Etag"] = []string{fmt.Sprintf(`"%x-%x"`, size, mod.UnixNano())}
	hd["X-Content-Type-Options"] = hdrNoSniff
	defer cork.Response(r)()
	http.ServeContent(w, r, "", mod, content)
}

// ZipCacheServed returns how many zips were answered from the zip cache.
func (h *Handler) ZipCacheServed() int64 { return h.zipServed.Load() }
