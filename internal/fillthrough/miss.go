package fillthrough

import (
	"io"
	"net/http"
)

// missWriter is the ResponseWriter of the store's own handler on a first
// try: it passes the answer on, unless it is a miss (mayFill says so of
// its status: 404, or a 410 that prune's removal left), which it keeps
// back, headers and body, so that the proxy can fill the version and ask
// the handler again. Most requests are hits, and a hit then costs what
// it costs the store's handler, with its caches, and no look at the
// store beforehand. It keeps io.ReaderFrom (sendfile from a disk store).
type missWriter struct {
	w       http.ResponseWriter
	mayFill func(code int) bool
	header  http.Header
	decided bool
	missed  bool
}

func newMissWriter(w http.ResponseWriter, mayFill func(int) bool) *missWriter {
	return &missWriter{w: w, mayFill: mayFill, header: http.Header{}}
}

func (m *missWriter) Header() http.Header {
	if m.decided && !m.missed {
		return m.w.Header()
	}
	return m.header
}

func (m *missWriter) WriteHeader(code int) {
	if m.decided {
		if !m.missed {
			m.w.WriteHeader(code)
		}
		return
	}
	m.decided = true
	if m.mayFill(code) {
		m.missed = true
		return
	}
	h := m.w.Header()
	for k, v := range m.header {
		h[k] = v
	}
	m.w.WriteHeader(code)
}

func (m *missWriter) Write(p []byte) (int, error) {
	if !m.decided {
		m.WriteHeader(http.StatusOK)
	}
	if m.missed {
		return len(p), nil
	}
	return m.w.Write(p)
}

func (m *missWriter) ReadFrom(src io.Reader) (int64, error) {
	if !m.decided {
		m.WriteHeader(http.StatusOK)
	}
	if m.missed {
		return io.Copy(io.Discard, src)
	}
	if rf, ok := m.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{m.w}, src)
}

// writerOnly hides every method but Write.
type writerOnly struct{ io.Writer }

// finish passes on an answer the handler gave without writing anything
// (a HEAD, whose headers it set): net/http would send it as a 200.
func (m *missWriter) finish() {
	if !m.decided {
		m.WriteHeader(http.StatusOK)
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (m *missWriter) Unwrap() http.ResponseWriter { return m.w }
