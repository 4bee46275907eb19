// Package server assembles modferry's HTTP server from its parts: the
// GOPROXY protocol (package proxy), /healthz and /metrics. It owns what
// spans every request: routing, metrics and logging.
package server

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"modferry/internal/modules"
	"modferry/internal/proxy"
	"modferry/internal/store"
)

// Config configures a Server. Store is required; the rest may be zero.
type Config struct {
	Store store.Store
	// Logger receives request errors and, at debug level, every request;
	// nil means slog.Default().
	Logger *slog.Logger
	// CacheBytes bounds the cache of small module files (see proxy.Options).
	CacheBytes int
}

// Server is modferry's HTTP handler.
type Server struct {
	log     *slog.Logger
	metrics *Metrics
	proxy   *proxy.Handler
	promh   http.Handler

	epList, epInfo, epMod, epZip, epLatest, epHealth, epMetrics, epOther *endpointStats
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := NewMetrics()
	s := &Server{
		log:     log,
		metrics: m,
		proxy:   proxy.New(&modules.Repo{Store: cfg.Store}, proxy.Options{CacheBytes: cfg.CacheBytes, Logger: log}),
		promh:   promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}),
	}
	s.epList, s.epInfo, s.epMod, s.epZip, s.epLatest = m.endpoint("list"), m.endpoint("info"), m.endpoint("mod"), m.endpoint("zip"), m.endpoint("latest")
	s.epHealth, s.epMetrics, s.epOther = m.endpoint("healthz"), m.endpoint("metrics"), m.endpoint("other")
	return s
}

// Proxy returns the GOPROXY handler, for callers that change the store
// and need its cache to forget something.
func (s *Server) Proxy() *proxy.Handler { return s.proxy }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	ep, h := s.route(r.URL.Path)
	h.ServeHTTP(rec, r)
	code := rec.status()
	s.metrics.observe(ep, code, rec.n, start)
	if code >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code)
	} else if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "code", code, "bytes", rec.n, "duration", time.Since(start))
	}
}

func (s *Server) route(path string) (*endpointStats, http.Handler) {
	switch {
	case path == "/healthz":
		return s.epHealth, http.HandlerFunc(healthz)
	case path == "/metrics":
		return s.epMetrics, s.promh
	case strings.HasSuffix(path, ".info"):
		return s.epInfo, s.proxy
	case strings.HasSuffix(path, ".mod"):
		return s.epMod, s.proxy
	case strings.HasSuffix(path, ".zip"):
		return s.epZip, s.proxy
	case strings.HasSuffix(path, "/@v/list"):
		return s.epList, s.proxy
	case strings.HasSuffix(path, "/@latest"):
		return s.epLatest, s.proxy
	}
	return s.epOther, s.proxy
}

func healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}
