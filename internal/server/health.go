package server

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modferry/modferry/internal/buildinfo"
	"github.com/modferry/modferry/internal/store"
)

// Health is the answer of /healthz?verbose.
type Health struct {
	Status  string `json:"status"`           // "ok", or "unavailable" (503) when the store cannot be reached
	Reason  string `json:"reason,omitempty"` // why not "ok", one line
	Service string `json:"service"`          // always "modferry": clients tell a modferry server from anything else by it
	buildinfo.Info
}

// healthTTL is how long /healthz reuses the outcome of a store check: a
// storm of health probes costs at most one store request a second.
const healthTTL = time.Second

// healthTimeout bounds one store check: a store that does not answer in
// that time is unhealthy.
const healthTimeout = 3 * time.Second

// maxReason bounds the reason /healthz gives, to keep its body small.
const maxReason = 300

// storeHealth checks that the store can be reached, at most once per
// healthTTL; concurrent probes wait for the check in progress.
type storeHealth struct {
	st      store.Store
	log     *slog.Logger // nil: slog.Default()
	mu      sync.Mutex
	checked time.Time // zero: never
	err     error
}

// A storeChecker can tell cheaply whether it can be reached (s3store:
// a listing of at most one key).
type storeChecker interface {
	Check(ctx context.Context) error
}

// check returns nil if the store answered its last check, made within
// healthTTL (or now), else why not.
func (h *storeHealth) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked.IsZero() && time.Since(h.checked) < healthTTL {
		return h.err
	}
	// Not the probe's context: a probe that hangs up must not be cached
	// as a failed store.
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	var err error
	if c, ok := h.st.(storeChecker); ok {
		err = c.Check(ctx)
	} else {
		_, err = h.st.List(ctx, "")
	}
	// Log when the outcome turns, not once per probe.
	log := h.log
	if log == nil {
		log = slog.Default()
	}
	switch {
	case err != nil && (h.err == nil || h.checked.IsZero()):
		log.Error("/healthz: the store cannot be reached; answering 503", "err", err)
	case err == nil && h.err != nil:
		log.Info("/healthz: the store answers again")
	}
	h.err, h.checked = err, time.Now()
	return err
}

// healthz answers "ok", or with ?verbose a Health in JSON; 503 with the
// reason in one line when the store cannot be reached (see storeHealth).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h := Health{Status: "ok", Service: "modferry"}
	code := http.StatusOK
	if err := s.health.check(); err != nil {
		code = http.StatusServiceUnavailable
		h.Status = "unavailable"
		h.Reason = oneLine("the store cannot be reached: "+publicReason(err)+" (the server's log has the details)", maxReason)
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
	}
	if !r.URL.Query().Has("verbose") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		if h.Reason != "" {
			w.Write([]byte(h.Reason + "\n"))
			return
		}
		w.Write([]byte("ok\n"))
		return
	}
	h.Info = buildinfo.Read()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.MarshalIndent(h, "", "  ")
	w.Write(append(b, '\n'))
}

// oneLine returns s on one line, cut to at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}

// publicReason says what kind of failure err is, for /healthz, which
// answers without a token: the error itself names the store's directory
// or its endpoint and bucket, which the server's log has.
func publicReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return "not found"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	default:
		return "error"
	}
}
