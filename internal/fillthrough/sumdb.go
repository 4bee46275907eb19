package fillthrough

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
)

// sumGet fetches a file of the checksum database (relative to its root)
// through the upstream's /sumdb/<name>/, keeping lookups and tiles (whose
// content never changes) and "latest" and "supported" for f.ttl. It is
// the Fetch of the captures that verify modules, so proofs and clients
// share one cache.
func (f *Filler) sumGet(ctx context.Context, p string) ([]byte, error) {
	ttl := f.ttl
	if strings.HasPrefix(p, "lookup/") || strings.HasPrefix(p, "tile/") {
		ttl = 0
	}
	return f.cachedGet(ctx, f.sumUp, f.sums, p, ttl)
}

// SumDB returns a handler of "/sumdb/<name>/..." that forwards requests
// for the configured database to the upstream (see sumGet) and the rest,
// and requests the upstream cannot answer, to local (the store's own
// checksum-database handler).
func (f *Filler) SumDB(local http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+f.db.Name()+"/")
		if !ok || !validSumPath(rest) || r.Method != http.MethodGet && r.Method != http.MethodHead {
			local.ServeHTTP(w, r)
			return
		}
		data, err := f.sumGet(r.Context(), rest)
		var nf *NotFoundError
		var ue *UnavailableError
		switch {
		case errors.As(err, &nf):
			http.Error(w, fmt.Sprintf("not found: checksum database %s: %s", f.db.Name(), nf.Msg), nf.Status)
			return
		case errors.As(err, &ue):
			// The store may hold it (a proof kept by a fill).
			local.ServeHTTP(w, r)
			return
		case err != nil:
			f.fail(w, reqNone, err)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		if rest == "latest" || rest == "supported" {
			hd.Set("Cache-Control", "no-cache")
		} else {
			hd.Set("Cache-Control", "public, max-age=86400")
		}
		hd.Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method != http.MethodHead {
			w.Write(data)
		}
	})
}

// validSumPath reports whether p is a path the checksum database protocol
// defines.
func validSumPath(p string) bool {
	switch {
	case p == "latest", p == "supported":
		return true
	case strings.HasPrefix(p, "lookup/"):
		return !strings.Contains(p, "..") && len(p) < 1024
	case strings.HasPrefix(p, "tile/"):
		_, err := tlog.ParseTilePath(p)
		return err == nil
	}
	return false
}

// reqNone is the request fail reports for a checksum-database path.
var reqNone = modfiles.Request{}
