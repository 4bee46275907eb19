package sumdb

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"modferry/internal/store"
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
		m, perr := parseLookupPath(strings.TrimPrefix(p, "lookup/"))
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
		http.Error(w, "not found", http.StatusNotFound)
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
