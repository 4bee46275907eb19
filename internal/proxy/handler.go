package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/cork"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/sizecache"
	"github.com/modferry/modferry/internal/store"
)

// Options configure a Handler. The zero value is usable.
type Options struct {
	// CacheBytes bounds the in-memory cache of small files; 0 means 8 MiB,
	// a negative value turns the cache off.
	CacheBytes int
	// Recheck is how old a cached entry may grow before the store is asked
	// again whether it still exists; 0 means one second.
	Recheck time.Duration
	// MaxAge applies to a store kept elsewhere that has the removal
	// stamp (see modules.RemovalStamp; s3store): there, the stamp is
	// looked at once per Recheck instead of every file, and what the
	// store confirmed is trusted while the stamp is unchanged, until it
	// is MaxAge old; 0 means a minute. It bounds how long a file removed
	// other than by a deletion or prune (an object deleted behind
	// modferry's back) may still be served.
	MaxAge time.Duration
	// ZipCache, if set, keeps copies of the zips served on local disk (see
	// ZipCache). It is used only with the removal stamp, on a store that
	// can describe an object without reading it (Stat), and ignored
	// otherwise.
	ZipCache *ZipCache
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the GOPROXY protocol from a modules.Repo. Requests reach
// it with the module path at the start of URL.Path ("/modferry.test/m/@v/list").
type Handler struct {
	repo    *modules.Repo
	cache   *sizecache.Cache[*smallFile]
	lists   *sizecache.Cache[*versionList] // nil unless the store is local
	recheck time.Duration
	log     *slog.Logger

	// With the removal stamp (a store kept elsewhere), else nil:
	removals *removals
	maxAge   time.Duration
	zips     *sizecache.Cache[*zipFact] // zips confirmed, by store name
	zipCache *ZipCache                  // nil: zips are streamed from the store
	stat     store.Stater               // nil if the store cannot describe an object without reading it
	// zipServed counts the zips answered from zipCache.
	zipServed atomic.Int64
}

// New returns a Handler serving repo.
func New(repo *modules.Repo, opts Options) *Handler {
	h := &Handler{repo: repo, recheck: opts.Recheck, log: opts.Logger}
	if h.recheck == 0 {
		h.recheck = time.Second
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	switch {
	case opts.CacheBytes == 0:
		h.cache = sizecache.New[*smallFile](8 << 20)
	case opts.CacheBytes > 0:
		h.cache = sizecache.New[*smallFile](opts.CacheBytes)
	}
	_, local := repo.Store.(store.Local)
	if local && h.cache != nil {
		h.lists = sizecache.New[*versionList](max(h.cache.Limit()/8, 64<<10))
	}
	if vs, ok := repo.Store.(versionStater); ok && !local {
		h.removals = &removals{store: vs, interval: h.recheck}
		h.maxAge = cmp.Or(opts.MaxAge, time.Minute)
		h.zips = sizecache.New[*zipFact](1 << 20)
		if st, ok := repo.Store.(store.Stater); ok {
			h.stat = st
			h.zipCache = opts.ZipCache
		}
	}
	return h
}

// Forget drops any cached file of the module version, for use after a
// deletion by this process.
func (h *Handler) Forget(v module.Version) {
	dir, err := modfiles.VersionDir(v.Path)
	if err != nil {
		return
	}
	// The open zips are kept apart from the small files' cache, which may
	// be off (--cache-bytes 0).
	if h.zips != nil {
		h.zips.DeletePrefix(dir + "/")
	}
	if h.cache != nil {
		h.cache.DeletePrefix(dir + "/")
		h.cache.DeletePrefix("/" + strings.TrimPrefix(dir, modfiles.Root+"/") + "/")
	}
}

var (
	hdrJSON      = []string{"application/json"}
	hdrText      = []string{"text/plain; charset=utf-8"}
	hdrZip       = []string{"application/zip"}
	hdrImmutable = []string{"public, max-age=31536000, immutable"}
	hdrShort     = []string{"public, max-age=60"}
	hdrNoSniff   = []string{"nosniff"}
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Fast path: a small file served before is cached under its request
	// path, which was valid then and names the same immutable file now.
	if h.cache != nil {
		if f, ok := h.cache.Get(r.URL.Path); ok && h.fresh(r.Context(), f) {
			h.writeSmall(w, r, f, f.kind, hdrImmutable)
			return
		}
	}
	req, err := modfiles.ParseRequest(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, modfiles.ErrNoSuchVersion) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
		return
	}
	ctx := r.Context()
	switch req.Op {
	case modfiles.OpList:
		h.serveList(ctx, w, r, req.Path)
	case modfiles.OpLatest:
		l, err := h.versions(ctx, req.Path)
		if err == nil && l.latest == "" {
			err = &fs.PathError{Op: "latest", Path: req.Path, Err: fs.ErrNotExist}
		}
		if err != nil {
			h.fail(w, req, err)
			return
		}
		req.Version.Version = l.latest
		h.serveFile(ctx, w, r, req, "", modfiles.Info, hdrShort)
	case modfiles.OpInfo:
		h.serveFile(ctx, w, r, req, r.URL.Path, modfiles.Info, hdrImmutable)
	case modfiles.OpMod:
		h.serveFile(ctx, w, r, req, r.URL.Path, modfiles.Mod, hdrImmutable)
	case modfiles.OpZip:
		if h.removals != nil {
			h.serveZip(ctx, w, r, req)
			return
		}
		h.serveFile(ctx, w, r, req, r.URL.Path, modfiles.Zip, hdrImmutable)
	}
}

func (h *Handler) serveList(ctx context.Context, w http.ResponseWriter, r *http.Request, path string) {
	l, err := h.versions(ctx, path)
	if err != nil {
		h.fail(w, modfiles.Request{Op: modfiles.OpList, Version: module.Version{Path: path}}, err)
		return
	}
	if l.latest == "" {
		// Distinguish "module unknown" (404) from "only pseudo-versions"
		// (200, empty), as proxies upstream do.
		http.Error(w, fmt.Sprintf("not found: module %s is not in this store", path), http.StatusNotFound)
		return
	}
	body := l.list
	hd := w.Header()
	hd["Content-Type"] = hdrText
	hd["Cache-Control"] = hdrShort
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// fresh reports whether a cached file may be served without asking the
// store: it was confirmed less than Recheck ago or, with the removal
// stamp, in the current generation and less than MaxAge ago.
func (h *Handler) fresh(ctx context.Context, f *smallFile) bool {
	age := time.Duration(time.Now().UnixNano() - f.checked.Load())
	if age < h.recheck {
		return true
	}
	if h.removals == nil || age >= h.maxAge {
		return false
	}
	gen, ok := h.removals.current(ctx)
	return ok && gen == f.gen.Load()
}

// generation returns the removal stamp's generation to record with what
// is confirmed now: 0 (never current) without the stamp or when the store
// could not be asked. It must be taken before the store is asked.
func (h *Handler) generation(ctx context.Context) uint64 {
	if h.removals == nil {
		return 0
	}
	gen, _ := h.removals.current(ctx)
	return gen
}

// serveFile serves one immutable file of a module version, from the cache
// when it can. Small files are cached under key, the request path; an
// empty key (for @latest, whose answer changes) caches under the store name.
func (h *Handler) serveFile(ctx context.Context, w http.ResponseWriter, r *http.Request, req modfiles.Request, key string, kind modfiles.Kind, cacheControl []string) {
	name, err := modfiles.Name(req.Version, kind)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if key == "" {
		key = name
	}
	if kind != modfiles.Zip && h.cache != nil {
		if f, ok := h.cache.Get(key); ok && h.fresh(ctx, f) {
			h.writeSmall(w, r, f, kind, cacheControl)
			return
		}
	}
	gen := h.generation(ctx)
	f, err := h.repo.Store.Open(ctx, name)
	if err == nil && (kind == modfiles.Mod || kind == modfiles.Zip) {
		// A version being published (or whose publish was interrupted)
		// is not served in part: its .info comes last.
		if pending, perr := h.repo.Pending(ctx, req.Version); perr != nil || pending {
			f.Close()
			f, err = nil, cmp.Or(perr, error(&fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}))
		}
	}
	if err != nil {
		if h.cache != nil {
			h.cache.Delete(key)
		}
		h.fail(w, req, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		h.fail(w, req, err)
		return
	}
	etag := fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())
	if kind != modfiles.Zip && h.cache != nil && fi.Size() <= int64(h.cache.Limit()/8) {
		if old, ok := h.cache.Get(key); ok && old.etag[0] == etag {
			old.gen.Store(gen)
			old.checked.Store(time.Now().UnixNano())
			h.writeSmall(w, r, old, kind, cacheControl)
			return
		}
		data, err := io.ReadAll(io.LimitReader(f, fi.Size()+1))
		if err == nil && int64(len(data)) == fi.Size() {
			sf := &smallFile{
				data:    data,
				etag:    []string{etag},
				length:  []string{strconv.Itoa(len(data))},
				modTime: fi.ModTime(),
				kind:    kind,
			}
			sf.gen.Store(gen)
			sf.checked.Store(time.Now().UnixNano())
			h.cache.Put(key, sf, len(sf.data))
			h.writeSmall(w, r, sf, kind, cacheControl)
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			h.fail(w, req, err)
			return
		}
	}
	hd := w.Header()
	hd["Content-Type"] = contentType(kind)
	hd["Cache-Control"] = cacheControl
	hd["Etag"] = []string{etag}
	hd["X-Content-Type-Options"] = hdrNoSniff
	if kind == modfiles.Zip {
		defer cork.Response(r)()
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func contentType(k modfiles.Kind) []string {
	switch k {
	case modfiles.Info:
		return hdrJSON
	case modfiles.Zip:
		return hdrZip
	}
	return hdrText
}

func (h *Handler) writeSmall(w http.ResponseWriter, r *http.Request, f *smallFile, kind modfiles.Kind, cacheControl []string) {
	hd := w.Header()
	hd["Content-Type"] = contentType(kind)
	hd["Cache-Control"] = cacheControl
	hd["Etag"] = f.etag
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && etagMatch(inm[0], f.etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Length"] = f.length
	if r.Method == http.MethodHead {
		return
	}
	w.Write(f.data)
}

// etagMatch reports whether an If-None-Match header value matches etag.
func etagMatch(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}

// fail answers a request that could not be served: 404 or 410 when the
// thing is absent, 500 otherwise.
func (h *Handler) fail(w http.ResponseWriter, req modfiles.Request, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		if errors.Is(err, store.ErrUnavailable) {
			h.log.Warn("store unavailable", "module", req.Path, "version", req.Version.Version, "op", req.Op.String(), "err", err)
			w.Header().Set("Retry-After", store.UnavailableRetryAfter)
			http.Error(w, "service unavailable: the module store cannot be reached for now; retry shortly", http.StatusServiceUnavailable)
			return
		}
		if errors.Is(err, store.ErrBadName) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.log.Error("serving module file", "module", req.Path, "version", req.Version.Version, "op", req.Op.String(), "err", err)
		http.Error(w, "internal error reading the store", http.StatusInternalServerError)
		return
	}
	if req.Version.Version != "" {
		if g, gerr := h.repo.IsGone(context.Background(), req.Version); gerr == nil && g != nil {
			msg := fmt.Sprintf("gone: %s was deleted from this store on %s: %s", req.Version, g.Time.UTC().Format(time.RFC3339), g.Reason)
			http.Error(w, msg, http.StatusGone)
			return
		}
		http.Error(w, fmt.Sprintf("not found: %s is not in this store", req.Version), http.StatusNotFound)
		return
	}
	http.Error(w, fmt.Sprintf("not found: module %s has no versions in this store", req.Path), http.StatusNotFound)
}
