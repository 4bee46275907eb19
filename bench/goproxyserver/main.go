// Command goproxyserver is the comparison server of the modferry benchmark
// (bench/serve.sh): github.com/goproxy/goproxy serving a GOPROXY download
// directory through its DirCacher, with a Fetcher that never fetches, so
// that every answer comes from the same files modferry and nginx serve.
//
//	goproxyserver -dir STORE/download -addr 127.0.0.1:PORT
//
// GET /healthz answers 200 once the listener is up. With -bare it serves
// the directory as the least a net/http server can do instead, the floor
// of a Go server for the benchmark's files: zips with http.FileServer
// (open, stat and sendfile per request), other files from memory with
// two headers; no GOPROXY logic, no limits, no metrics.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goproxy/goproxy"
)

// notFoundFetcher is a goproxy.Fetcher for a closed set of modules: it
// knows nothing beyond the cache, so every fetch is fs.ErrNotExist.
type notFoundFetcher struct{}

func (notFoundFetcher) Query(ctx context.Context, path, query string) (string, time.Time, error) {
	return "", time.Time{}, fmt.Errorf("query %s@%s: %w", path, query, fs.ErrNotExist)
}

func (notFoundFetcher) List(ctx context.Context, path string) ([]string, error) {
	return nil, fmt.Errorf("list %s: %w", path, fs.ErrNotExist)
}

func (notFoundFetcher) Download(ctx context.Context, path, version string) (info, mod, zip io.ReadSeekCloser, err error) {
	return nil, nil, nil, fmt.Errorf("download %s@%s: %w", path, version, fs.ErrNotExist)
}

func main() {
	dir := flag.String("dir", "", "GOPROXY download directory to serve (required)")
	addr := flag.String("addr", "127.0.0.1:3001", "listen address")
	bare := flag.Bool("bare", false, "serve the directory with http.FileServer, not goproxy")
	flag.Parse()
	if *dir == "" {
		log.Fatal("goproxyserver: -dir is required")
	}
	g := &goproxy.Goproxy{
		Fetcher: notFoundFetcher{},
		Cacher:  goproxy.DirCacher(*dir),
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	if *bare {
		mux.Handle("/", bareHandler(*dir))
	} else {
		mux.Handle("/", g)
	}
	log.Fatal(http.ListenAndServe(*addr, mux))
}

// bareHandler serves dir: zips from disk, other files from memory.
func bareHandler(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	var mem sync.Map // path -> []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, ".zip") {
			files.ServeHTTP(w, r)
			return
		}
		v, ok := mem.Load(p)
		if !ok {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path.Clean(p))))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			v, _ = mem.LoadOrStore(p, b)
		}
		b := v.([]byte)
		h := w.Header()
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.Write(b)
	})
}
