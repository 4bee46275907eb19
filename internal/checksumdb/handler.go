package checksumdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// Handler serves the checksum databases dbs as a GOPROXY serves them, for
// requests whose URL path begins "/sumdb/<name>/":
//
//	supported                       200, empty
//	latest                          the head served now
//	lookup/<path>@<version>         a lookup; 404 if not held
//	tile/H/L/NNN[.p/W]              a hash tile, cut from a wider one
//	tile/H/data/NNN[.p/W]           a record tile, if held
//
// Unknown databases and files answer 404, malformed requests 400; 5xx
// means the store failed. Tiles are immutable and cached long; latest and
// lookups change as heads move and are cached briefly.
func Handler(dbs ...*DB) http.Handler {
	h := &handler{dbs: make(map[string]*DB)}
	for _, db := range dbs {
		h.dbs[db.Name()] = db
	}
	return h
}

type handler struct {
	dbs map[string]*DB
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	name, p, _ := strings.Cut(rest, "/")
	db := h.dbs[name]
	if db == nil {
		http.Error(w, "unknown checksum database", http.StatusNotFound)
		return
	}
	ctx := r.Context()
	var (
		data  []byte
		err   error
		ctype = "text/plain; charset=utf-8"
		cache = "public, max-age=60"
	)
	switch {
	case p == "supported":
		w.WriteHeader(http.StatusOK)
		return
	case p == "latest":
		data, err = db.read(ctx, "latest")
		cache = "no-cache"
	case strings.HasPrefix(p, "lookup/"):
		m, perr := modfiles.ParseLookupPath(p)
		if perr != nil {
			http.Error(w, "malformed lookup: "+perr.Error(), http.StatusBadRequest)
			return
		}
		data, err = db.Lookup(ctx, m)
	case strings.HasPrefix(p, "tile/"):
		t, perr := tlog.ParseTilePath(p)
		if perr != nil {
			http.Error(w, "malformed tile path", http.StatusBadRequest)
			return
		}
		data, err = db.Tile(ctx, t)
		if t.L >= 0 {
			ctype = "application/octet-stream"
		}
		cache = "public, max-age=31536000, immutable"
	default:
		http.NotFound(w, r)
		return
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, store.ErrBadName) {
		http.Error(w, notFoundMessage(r.Context(), db, p), http.StatusNotFound)
		return
	}
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
		http.Error(w, "service unavailable: the store of the checksum database cannot be reached for now; retry shortly", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		http.Error(w, "store error", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	if match := r.Header.Get("If-None-Match"); match != "" && match == w.Header().Get("ETag") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(data)
}

// notFoundMessage explains a 404 to the person reading the go command's
// error: the most useful cases are a module with no proof in the store and
// a client holding a newer tree head than the store has.
func notFoundMessage(ctx context.Context, db *DB, p string) string {
	if rest, ok := strings.CutPrefix(p, "lookup/"); ok {
		return "not found: this modferry store has no checksum-database proof for " + rest +
			" (import a bundle that carries it, or list private modules in GONOSUMDB)"
	}
	t, err := tlog.ParseTilePath(p)
	if err != nil {
		return "not found"
	}
	head, herr := db.Head(ctx)
	if herr != nil {
		return "not found: this modferry store holds no tree head of " + db.Name()
	}
	level := t.L
	if level < 0 {
		level = 0
	}
	end := (t.N*int64(1<<t.H) + int64(t.W)) << (uint(t.H) * uint(level))
	if end > head.N {
		return fmt.Sprintf("not found: this modferry store's %s tree has %d records, and this tile reaches record %d: "+
			"the client holds a newer tree head than the store (it verified against a newer database elsewhere). "+
			"Import a bundle exported since, or remove the client's GOPATH/pkg/sumdb/%s/latest", db.Name(), head.N, end, db.Name())
	}
	return "not found: tile not in this store"
}
