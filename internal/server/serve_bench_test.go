package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modferry/modferry/internal/auth"
)

// discardWriter is a ResponseWriter that throws the body away, with
// ReadFrom as net/http's own has, and a header map it empties for each
// request, so that a benchmark counts what the server allocates, not the
// recorder.
type discardWriter struct {
	h    http.Header
	code int
	n    int64
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(p))
	return len(p), nil
}

func (w *discardWriter) ReadFrom(r io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	n, err := io.Copy(io.Discard, r)
	w.n += n
	return n, err
}

func (w *discardWriter) reset() {
	clear(w.h)
	w.code, w.n = 0, 0
}

// BenchmarkGOPROXY measures a GOPROXY request through the whole server
// (routing, access control, metrics, logging, the proxy handler), on an
// open server and with a read token: .info and .mod come from the cache,
// the .zip from the store.
func BenchmarkGOPROXY(b *testing.B) {
	for _, tc := range []struct {
		name   string
		tokens bool
	}{{"open", false}, {"token", true}} {
		f := newFixture(b, Config{})
		var tok string
		if tc.tokens {
			tok = f.add(b, "r", auth.ScopeRead)
		}
		for _, ext := range []string{"info", "mod", "zip"} {
			b.Run(tc.name+"/"+ext, func(b *testing.B) {
				r := httptest.NewRequest("GET", "/corp.example/a/@v/v1.0.0."+ext, nil)
				if tok != "" {
					r.Header.Set("Authorization", "Bearer "+tok)
				}
				w := &discardWriter{h: http.Header{}}
				f.srv.ServeHTTP(w, r)
				if w.code != http.StatusOK {
					b.Fatal(w.code)
				}
				b.ReportAllocs()
				for b.Loop() {
					w.reset()
					f.srv.ServeHTTP(w, r)
					if w.code != http.StatusOK {
						b.Fatal(w.code)
					}
				}
			})
		}
	}
}
