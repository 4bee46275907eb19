// Package server assembles modferry's HTTP server from its parts: the
// GOPROXY protocol (package proxy), the JSON API (publish, delete,
// tokens, and the metadata API answered from package catalog), /healthz
// and /metrics. It owns what spans every request:
// routing, access control (auth.go), metrics and logging.
package server

import (
	"cmp"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/catalog"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/connlimit"
	"github.com/modferry/modferry/internal/downloads"
	"github.com/modferry/modferry/internal/fillthrough"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/proxy"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/trust"
	"github.com/modferry/modferry/internal/vulndb"
	"github.com/modferry/modferry/internal/web"
)

// Config configures a Server. Store is required; the rest may be zero.
type Config struct {
	Store store.Store
	// Logger receives request errors and, at debug level, every request;
	// nil means slog.Default().
	Logger *slog.Logger
	// CacheBytes bounds the cache of small module files (see proxy.Options).
	CacheBytes int
	// ZipCache keeps copies of the zips served, for a store kept
	// elsewhere (see proxy.Options); nil keeps none.
	ZipCache *proxy.ZipCache

	// Tokens are the access tokens; nil means there are none. Once any
	// token exists, every request but /healthz needs one.
	Tokens *auth.Tokens
	// RequireAuth requires a token even while no token exists.
	RequireAuth bool
	// AllowAnonymousRead lets requests without a token read (GOPROXY,
	// checksum database, GET API, /metrics) even when tokens exist.
	AllowAnonymousRead bool
	// Limiter limits failed authentications per client; nil means an
	// auth.Limiter with its defaults.
	Limiter *auth.Limiter
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the
	// client for the Limiter; nil trusts none.
	TrustedProxies []netip.Prefix
	// Audit receives server.start/stop, auth.failure summaries and every
	// change made through the API; nil records nothing.
	Audit *audit.Log
	// SummaryEvery is how often failed authentications are summarized
	// in one auth.failure entry; 0 means a minute.
	SummaryEvery time.Duration
	// BundleTrust is what the signatures of a bundle uploaded to
	// POST /api/v1/bundles must satisfy; nil Keys turn bundle upload off.
	BundleTrust trust.Policy
	// TempDir holds the module zips of publish requests while they are
	// received and made canonical; "" means STORE/uploads for a store on
	// the local filesystem (see UploadsDir), else os.TempDir(). Bundle
	// uploads stage in the store's importer.StagingDir, or, for a store
	// kept elsewhere, in TempDir (importer.Options.ScratchDir).
	TempDir string
	// MaxBundleBytes bounds one bundle upload; 0 means
	// DefaultMaxBundleBytes.
	MaxBundleBytes int64
	// MaxUploads bounds the uploads (publish and bundle) received at
	// once; more get 429 with Retry-After. 0 means DefaultMaxUploads.
	MaxUploads int
	// MinRate and StallGrace apply connlimit's rate rule to request
	// bodies (uploads): a client that sends slower than MinRate bytes/s
	// once StallGrace is used up is cut off. 0 MinRate turns it off.
	MinRate    int64
	StallGrace time.Duration
	// Catalog is the store's index for the metadata API (and the web
	// catalog); nil makes one on Store. The caller runs it (Catalog.Run):
	// until then, searches find only what RefreshModules entered.
	Catalog *catalog.Catalog
	// MinFreeBytes is the free space an upload must leave on the store's
	// filesystem (else 507); 0 means DefaultMinFreeBytes, negative none.
	MinFreeBytes int64
	// Upstream, if set, makes the server a fill-through caching proxy:
	// GOPROXY misses are fetched from its upstream, verified and stored,
	// and /sumdb/ is forwarded to it (package fillthrough).
	Upstream *fillthrough.Filler
	// Downloads, if set, records each .info, .mod and .zip served (for
	// prune --unused-since); the caller runs it (Recorder.Run).
	Downloads *downloads.Recorder
}

// Server is modferry's HTTP handler.
type Server struct {
	log     *slog.Logger
	metrics *Metrics
	repo    *modules.Repo
	proxy   *proxy.Handler
	goproxy http.Handler // proxy, or the fill-through proxy wrapping it
	sumdb   http.Handler
	vulndb  http.Handler
	vulns   vulndb.Cache // the vulnerability database, for the API
	promh   http.Handler

	gate         gate
	audit        *audit.Log
	summaryEvery time.Duration
	tempDir      string
	store        store.Store
	bundleTrust  trust.Policy
	catalog      *catalog.Catalog
	web          *web.Handler
	life         lifecycle
	downloads    *downloads.Recorder
	health       *storeHealth

	uploads   chan struct{} // one token per upload being received
	live      liveOps       // uploads running, for Housekeep
	maxBundle int64
	minFree   int64
	maxZip    int64 // a published zip; tests lower it
	bodyRate  connlimit.Options

	epList, epInfo, epMod, epZip, epLatest, epHealth, epMetrics, epAPI, epSumDB, epOther *endpointStats
	epVulnDB, epWeb                                                                      *endpointStats

	mux, apiMux *http.ServeMux            // the routes; api those under api.Prefix (see serveAPI)
	goproxyRt   http.Handler              // the GOPROXY catch-all's guarded handler, for the fast path (proxyPath)
	fastProxy   bool                      // no route but the catch-all can take a path whose first element has a dot
	routeEP     map[string]*endpointStats // endpoint by pattern
	apiMethods  []string                  // the methods of API routes
	webRoutes   map[string]bool           // the patterns of the web catalog's routes
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := NewMetrics()
	repo := &modules.Repo{Store: cfg.Store}
	s := &Server{
		log:     log,
		metrics: m,
		repo:    repo,
		proxy:   proxy.New(repo, proxy.Options{CacheBytes: cfg.CacheBytes, Logger: log, ZipCache: cfg.ZipCache}),
		sumdb:   checksumdb.StoreHandler(cfg.Store),
		vulndb:  http.StripPrefix("/vulndb", vulndb.Handler(cfg.Store)),
		promh:   promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}),
		gate: gate{
			tokens:      cfg.Tokens,
			requireAuth: cfg.RequireAuth,
			anonRead:    cfg.AllowAnonymousRead,
			limiter:     cfg.Limiter,
			trusted:     cfg.TrustedProxies,
		},
		audit:        cfg.Audit,
		summaryEvery: cfg.SummaryEvery,
		tempDir:      cfg.TempDir,
		store:        cfg.Store,
		bundleTrust:  cfg.BundleTrust,
		catalog:      cfg.Catalog,
		downloads:    cfg.Downloads,
		health:       &storeHealth{st: cfg.Store, log: log},
	}
	if s.catalog == nil {
		s.catalog = catalog.New(cfg.Store)
	}
	s.web = web.New(web.Options{
		Catalog: s.catalog, Logger: log, CheckLogin: s.checkLogin,
		Open: func() bool { return s.gate.openRead(time.Now()) },
	})
	s.goproxy = s.proxy
	if cfg.Upstream != nil {
		s.goproxy, s.sumdb = cfg.Upstream.Proxy(s.proxy), cfg.Upstream.SumDB(s.sumdb)
	}
	if s.gate.limiter == nil {
		s.gate.limiter = &auth.Limiter{}
	}
	if s.summaryEvery <= 0 {
		s.summaryEvery = time.Minute
	}
	s.maxBundle = cmp.Or(cfg.MaxBundleBytes, DefaultMaxBundleBytes)
	s.maxZip = modzip.MaxZipFile
	s.bodyRate = connlimit.Options{MinRate: cfg.MinRate, Grace: cfg.StallGrace}
	s.minFree = cmp.Or(cfg.MinFreeBytes, DefaultMinFreeBytes)
	s.uploads = make(chan struct{}, cmp.Or(cfg.MaxUploads, DefaultMaxUploads))
	s.epList, s.epInfo, s.epMod, s.epZip, s.epLatest = m.endpoint("list"), m.endpoint("info"), m.endpoint("mod"), m.endpoint("zip"), m.endpoint("latest")
	s.epHealth, s.epMetrics, s.epAPI, s.epOther = m.endpoint("healthz"), m.endpoint("metrics"), m.endpoint("api"), m.endpoint("other")
	s.epSumDB = m.endpoint("sumdb")
	s.epVulnDB = m.endpoint("vulndb")
	s.epWeb = m.endpoint("web")
	s.mux, s.apiMux, s.routeEP = http.NewServeMux(), http.NewServeMux(), map[string]*endpointStats{}
	s.webRoutes = map[string]bool{}
	for _, wr := range s.web.Routes() {
		s.webRoutes[wr.Pattern] = true
	}
	for _, rt := range s.routeTable() {
		mux := s.mux
		if isAPI(rt.pattern) {
			mux = s.apiMux
			method, _, _ := strings.Cut(rt.pattern, " ")
			if !slices.Contains(s.apiMethods, method) {
				s.apiMethods = append(s.apiMethods, method)
			}
		}
		h := s.guard(rt)
		mux.Handle(rt.pattern, h)
		s.routeEP[rt.pattern] = rt.ep
		if rt.pattern == goproxyPattern {
			s.goproxyRt = h
		}
	}
	s.fastProxy = s.goproxyRt != nil && dotFree(s.routeTable())
	return s
}

// Catalog returns the store's index the metadata API and the web catalog
// answer from; the caller runs it (Catalog.Run) for as long as it serves.
func (s *Server) Catalog() *catalog.Catalog { return s.catalog }

// Proxy returns the GOPROXY handler, for callers that change the store
// and need its cache to forget something.
func (s *Server) Proxy() *proxy.Handler { return s.proxy }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, start: time.Now()}
	if r.ContentLength != 0 {
		defer connlimit.Body(w, r, s.bodyRate)()
	}
	if s.fastProxy && proxyPath(r) {
		// What the mux would do, without its routing work (see proxyPath).
		r.Pattern = goproxyPattern
		s.goproxyRt.ServeHTTP(rec, r)
	} else if strings.HasPrefix(r.URL.Path, api.Prefix) {
		s.serveAPI(rec, r)
	} else {
		s.mux.ServeHTTP(rec, r)
	}
	if rec.ep == nil {
		rec.ep = s.endpointOf(r)
	}
	code := rec.status()
	s.metrics.observe(rec.ep, code, rec.n, rec.start)
	if s.downloads != nil && (rec.ep == s.epZip || rec.ep == s.epMod || rec.ep == s.epInfo) &&
		(code == http.StatusOK || code == http.StatusNotModified || code == http.StatusPartialContent) {
		s.downloads.Record(r.URL.Path, rec.start)
	}
	if code >= 500 && rec.ep != s.epHealth { // /healthz logs when it turns (storeHealth)
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code)
	} else if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "code", code, "bytes", rec.n, "duration", time.Since(rec.start))
	}
}
