package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
)

// readFromSpy is a ResponseWriter with ReadFrom, as net/http's own, that
// notes what it was handed.
type readFromSpy struct {
	discardWriter
	src io.Reader
}

func (w *readFromSpy) ReadFrom(r io.Reader) (int64, error) {
	w.src = r
	return w.discardWriter.ReadFrom(r)
}

// TestZipReachesSendfile: a zip leaves the server through the response's
// ReadFrom with the store's file (under ServeContent's LimitedReader), so
// that net/http hands it to the kernel's sendfile: no wrapper on the way
// (the recorder, the fast path, the guard) hides ReadFrom or the file.
func TestZipReachesSendfile(t *testing.T) {
	f := newFixture(t, Config{})
	w := &readFromSpy{discardWriter: discardWriter{h: http.Header{}}}
	f.srv.ServeHTTP(w, httptest.NewRequest("GET", "/corp.example/a/@v/v1.0.0.zip", nil))
	if w.code != http.StatusOK || w.n == 0 {
		t.Fatalf("zip: %d, %d bytes", w.code, w.n)
	}
	src := w.src
	if lr, ok := src.(*io.LimitedReader); ok {
		src = lr.R
	}
	if _, ok := src.(syscall.Conn); !ok {
		t.Fatalf("ReadFrom got %T, not a file net/http can sendfile", w.src)
	}
}
