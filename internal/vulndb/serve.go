package vulndb

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"

	"github.com/modferry/modferry/internal/store"
)

// Handler serves the store's database, as govulncheck's -db flag expects,
// under the URL path it is mounted at (strip the prefix first): every
// file as .json and, compressed on the fly, as .json.gz. The gzip files are
// sent without Content-Encoding, because the client decompresses them
// itself. The compressed indexes of the copy in use are kept in memory.
// Any other path is 404; a store without a database answers 404 for
// everything.
func Handler(st store.Store) http.Handler {
	return &handler{st: st}
}

type handler struct {
	st store.Store

	mu       sync.Mutex
	cacheDir string            // the copy the cache holds files of
	cache    map[string][]byte // name -> gzip of an index file
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	base, gz := strings.CutSuffix(name, ".gz")
	if CheckName(base) != nil {
		http.NotFound(w, r)
		return
	}
	dir, err := current(r.Context(), h.st)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no vulnerability database: export with --vulndb and import the bundle", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "vulnerability database unavailable", http.StatusInternalServerError)
		return
	}
	f, err := h.st.Open(r.Context(), dir+"/"+base)
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "vulnerability database unavailable", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "vulnerability database unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	if !gz {
		w.Header().Set("Content-Type", "application/json")
		http.ServeContent(w, r, "", fi.ModTime(), f)
		return
	}
	data, err := h.gzipped(dir, base, f)
	if err != nil {
		http.Error(w, "vulnerability database unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	http.ServeContent(w, r, "", fi.ModTime(), bytes.NewReader(data))
}

// gzipped returns the gzip of the file base of the copy dir, read from f;
// index files are compressed once per copy.
func (h *handler) gzipped(dir, base string, f io.Reader) ([]byte, error) {
	index := strings.HasPrefix(base, "index/")
	if index {
		h.mu.Lock()
		data, ok := h.cache[base]
		if h.cacheDir != dir {
			h.cacheDir, h.cache, ok = dir, map[string][]byte{}, false
		}
		h.mu.Unlock()
		if ok {
			return data, nil
		}
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	data, err := gzipBytes(raw)
	if err != nil {
		return nil, err
	}
	if index {
		h.mu.Lock()
		if h.cacheDir == dir {
			h.cache[base] = data
		}
		h.mu.Unlock()
	}
	return data, nil
}
