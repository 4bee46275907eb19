package fillthrough

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/modfiles"
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
