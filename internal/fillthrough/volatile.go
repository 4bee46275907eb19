package fillthrough

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/modfiles"
	"golang.org/x/mod/semver"
)

// cachedGet returns the upstream's answer for p from cache, else fetches
// it, once however many ask at once. A 200 answer is kept ttl (0:
// forever), a "not found" ttl at most; a failure is not kept.
func (f *Filler) cachedGet(ctx context.Context, up *upstream, cache *answerCache, p string, ttl time.Duration) ([]byte, error) {
	if a := cache.get(p, time.Now()); a != nil {
		return a.data, a.err
	}
	ch := f.gets.DoChan(up.base+"/"+p, func() (any, error) {
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		data, err := up.get(gctx, p, 16<<20)
		var nf *NotFoundError
		switch {
		case err == nil:
			a := &answer{data: data}
			if ttl > 0 {
				a.expires = time.Now().Add(ttl)
			}
			cache.put(p, a)
		case errors.As(err, &nf):
			cache.put(p, &answer{err: err, expires: time.Now().Add(min(f.ttl, cmpTTL(ttl)))})
		}
		return data, err
	})
	select {
	case res := <-ch:
		data, _ := res.Val.([]byte)
		return data, res.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func cmpTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return time.Hour
	}
	return ttl
}

// serveVolatile answers a list, @latest or query request with the
// upstream's answer (kept f.ttl). When the upstream cannot answer, the
// store's own list or @latest is served if it has the module.
func (f *Filler) serveVolatile(w http.ResponseWriter, r *http.Request, local http.Handler, req modfiles.Request, p string) {
	ctx := r.Context()
	data, err := f.cachedGet(ctx, f.up, f.volatile, p, f.ttl)
	if req.Op == modfiles.OpList || req.Op == modfiles.OpLatest {
		data, err = f.withStore(ctx, r, local, req, data, err)
	}
	if err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) && (req.Op == modfiles.OpList || req.Op == modfiles.OpLatest) {
			if vs, verr := f.repo.Versions(ctx, req.Path); verr == nil && len(vs) > 0 {
				f.log.Warn("upstream unavailable: serving the store's own answer", "path", p, "err", err)
				local.ServeHTTP(w, r)
				return
			}
		}
		var nf *NotFoundError
		if errors.As(err, &nf) {
			http.Error(w, fmt.Sprintf("not found: %s: upstream answered %d: %s", strings.TrimPrefix(r.URL.Path, "/"), nf.Status, nf.Msg), nf.Status)
			return
		}
		f.fail(w, req, err)
		return
	}
	hd := w.Header()
	ctype := "application/json"
	if req.Op == modfiles.OpList || req.Op == modfiles.OpMod {
		ctype = "text/plain; charset=utf-8"
	}
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(f.ttl/time.Second)))
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(data)
}

// withStore joins the store's view of a module to the upstream's answer
// to a list or @latest request (data, err): the versions published or
// imported here, which the upstream may not know (it answers 404 for a
// private module), are listed too, and versions deleted here on purpose
// are not (they answer 410, so a go command that picked one from the list
// would fail instead of taking the next). @latest falls back to the
// store's answer when the upstream has none or names a deleted version.
func (f *Filler) withStore(ctx context.Context, r *http.Request, local http.Handler, req modfiles.Request, data []byte, err error) ([]byte, error) {
	var nf *NotFoundError
	var ue *UnavailableError
	if err != nil && !errors.As(err, &nf) && !errors.As(err, &ue) {
		return data, err
	}
	own := f.localAnswer(r, local)
	deleted, derr := f.deletedVersions(ctx, req.Path)
	if derr != nil {
		// The store cannot say what was deleted here: the answers as
		// they are, rather than none.
		f.log.Warn("reading the versions deleted here", "module", req.Path, "err", derr)
		deleted = nil
	}
	switch req.Op {
	case modfiles.OpLatest:
		if err != nil {
			if own != nil {
				return own, nil
			}
			return data, err
		}
		var latest struct{ Version string }
		if json.Unmarshal(data, &latest) == nil && deleted[latest.Version] && own != nil {
			return own, nil
		}
		return data, nil
	default: // OpList
		if err != nil && own == nil {
			return data, err
		}
		seen := map[string]bool{}
		var vs []string
		for _, v := range strings.Fields(string(data) + "\n" + string(own)) {
			if !seen[v] && !deleted[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
		semver.Sort(vs)
		if len(vs) == 0 {
			return []byte{}, nil
		}
		return []byte(strings.Join(vs, "\n") + "\n"), nil
	}
}

// localAnswer is the store's own answer to r (a GET, with the store
// handler's caches), or nil if it has none (or an empty list).
func (f *Filler) localAnswer(r *http.Request, local http.Handler) []byte {
	g := r.Clone(r.Context())
	g.Method = http.MethodGet
	rec := httptest.NewRecorder()
	local.ServeHTTP(rec, g)
	if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		return nil // an empty list is no answer of the store's
	}
	return rec.Body.Bytes()
}

// deletedVersions returns the versions of path deleted here on purpose,
// kept as long as the upstream's lists (f.ttl): one listing of the
// module's directory, and a read of each deletion record.
func (f *Filler) deletedVersions(ctx context.Context, path string) (map[string]bool, error) {
	key := "\x00deleted/" + path
	if a := f.volatile.get(key, time.Now()); a != nil {
		return a.deleted, nil
	}
	d, err := f.repo.Deleted(ctx, path)
	if err != nil {
		return nil, err
	}
	a := &answer{deleted: d, expires: time.Now().Add(f.ttl)}
	for v := range d {
		a.data = append(a.data, v...) // counted by the cache's bound
	}
	f.volatile.put(key, a)
	return d, nil
}
