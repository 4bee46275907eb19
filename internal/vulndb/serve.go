package vulndb

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/modferry/modferry/internal/store"
)

// Handler serves the store's database, as govulncheck's -db flag expects,
// under the URL path it is mounted at (strip the prefix first): every
// file as .json and as .json.gz. The gzip files are sent as they are
// stored, without Content-Encoding, because the client decompresses them
// itself. Any other path is 404; a store without a database answers 404
// for everything.
func Handler(st store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		dir, err := current(r.Context(), st)
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, "no vulnerability database: export with --vulndb and import the bundle", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, "vulnerability database unavailable", http.StatusInternalServerError)
			return
		}
		f, err := st.Open(r.Context(), dir+"/"+name)
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
		ctype := "application/json"
		if gz {
			ctype = "application/gzip"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=300")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
}
