package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/connlimit"
	"github.com/modferry/modferry/internal/cork"
	"github.com/modferry/modferry/internal/downloads"
	"github.com/modferry/modferry/internal/fillthrough"
	"github.com/modferry/modferry/internal/proxy"
	"github.com/modferry/modferry/internal/server"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/trust"
)

type serveOptions struct {
	store        string
	addr         string
	cacheBytes   int
	zipCacheDir  string
	zipCacheSize byteSize

	requireAuth    bool
	anonymousRead  bool
	tlsCert        string
	tlsKey         string
	trustedProxies []string
	authFailures   int
	authWindow     time.Duration
	pubkeys        []string

	requireSignatures int
	maxBundle         byteSize
	maxUploads        int
	minFree           byteSize
	maxConnsPerClient int
	minRate           byteSize
	stallTimeout      time.Duration
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	cleanEvery        time.Duration
	catalogEvery      time.Duration
	downloadsFlush    time.Duration

	upstream      string
	upstreamSumDB string
	private       string
	upstreamTTL   time.Duration
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve --store DIR --addr HOST:PORT",
		Short: "Serve the store as a GOPROXY",
		Long: `Serve the module store over HTTP as a GOPROXY (the go command's module
proxy protocol), with the publish/delete/token API, /healthz and Prometheus
/metrics. /healthz needs no token and answers 200 "ok", or 503 with the
reason on one line when the store cannot be reached (checked at most once
a second, however many probes come), so that a load balancer stops sending
traffic to a replica that lost its store.

Access: once any token exists ('modferry token add'), or with
--require-auth, every request but /healthz needs a token, sent as the HTTP
Basic password (what .netrc and GOAUTH=netrc give the go command) or as
"Authorization: Bearer TOKEN". --allow-anonymous-read lets requests
without a token read modules. Publishing, deleting and managing tokens over
HTTP always need a token with the write, delete or admin scope. The go
command sends credentials only over HTTPS: serve with --tls-cert and
--tls-key, or behind a TLS reverse proxy (--trusted-proxy).

Point go clients at it with the lines 'modferry env --server URL' prints.
The server answers until SIGINT or SIGTERM, then finishes the requests in
flight and exits. Start, stop and a per-minute summary of failed
authentications go to the audit log (STORE/audit). If the audit log cannot
take entries (its disk is full, the store is read-only), the server still
starts and serves modules and the checksum database, and refuses every
change (507, or 503 on a read-only store) until it can.


Limits. Uploads (publish, POST /api/v1/bundles) are checked as they
arrive: a bundle that is not one is refused at its first bad byte.
--max-bundle-size bounds a bundle upload (413 beyond), --max-uploads the
uploads received at once (429 with Retry-After beyond), and
--min-free-space the free space an upload must leave on the store's
filesystem (507 below it, as when the disk fills). Every connection must
keep up --min-rate while it sends a body or receives an answer: one that
stalls is cut off after --stall-timeout; a fixed timeout would cut big zips
on slow links instead. --read-header-timeout bounds the request line and
headers (and the TLS handshake), --idle-timeout a keep-alive connection
between requests, and --max-conns-per-client the open connections of one
client address (--trusted-proxy addresses are exempt).

Housekeeping. At start-up and every --clean-every, a publish that a crash
interrupted is rolled back (its version can be published again), and what
crashed uploads and imports left (STORE/uploads, STORE/staging, .tmp-*
files) is removed; never anything a running operation may use.

A store kept elsewhere (s3://, any number of replicas). The .info, .mod
and .zip of a version never change once it is complete; only a deletion
or prune removes them, and those rewrite the object state/removals. So a
server looks at that object's version once a second (one HEAD) and,
while it is unchanged, serves what the store confirmed less than a minute
ago without asking again: a deletion answers 410 on every replica within
about a second, an object removed behind modferry's back within a minute.
With --zip-cache-dir, each server also keeps copies of the zips it serves
on its own disk (at most --zip-cache-size, least recently used removed
first) and sends them from there with sendfile instead of copying every
byte from the object store: written to a temporary file, fsynced and
renamed, so a crash never leaves a partial copy to serve, and used only
for a zip the store confirmed as above.

Fill-through proxy (the connected side). With --upstream URL (a GOPROXY
such as https://proxy.golang.org), a .info, .mod or .zip the store lacks
is fetched from the upstream, checked against the checksum database
(--upstream-sumdb, default sum.golang.org; its go.mod and zip h1: hashes
must match the database's record, proven by tiles up to a head signed with
the database's key), stored, then served. The proofs are kept in the store,
so 'modferry export --from-store' can bundle what was fetched. Modules
matching --private (comma-separated path globs, as GOPRIVATE) are stored
without the checksum check. @v/list and @latest are asked of the upstream
each time, kept --upstream-ttl, and answered from the store when the
upstream is unreachable. /sumdb/ is forwarded to the upstream's, with
lookups and tiles cached. Upstream 404/410 is answered 404/410; network
errors and upstream 5xx are 502 (504 for timeouts), so that the go command
tries its next proxy; a module the checksum database does not vouch for is
refused with 502 and not stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.newLogger(os.Stderr)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), o, log)
		},
	}
	addStoreFlag(cmd, &o.store)
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:3000", "listen address")
	f.IntVar(&o.cacheBytes, "cache-bytes", 8<<20, "memory for caching small module files (.info, .mod); 0 turns it off")
	f.StringVar(&o.zipCacheDir, "zip-cache-dir", "", "with a store kept elsewhere (s3://): keep copies of the zips served in this local directory, one per server, and serve them from there (a deleted version is never served from it)")
	o.zipCacheSize = 4 << 30
	f.Var(&o.zipCacheSize, "zip-cache-size", "with --zip-cache-dir: the most zip bytes kept there; the least recently used go first")
	f.BoolVar(&o.requireAuth, "require-auth", false, "require a token even while no token exists")
	f.BoolVar(&o.anonymousRead, "allow-anonymous-read", false, "let requests without a token read modules even when tokens exist")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file for --tls-cert")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy whose X-Forwarded-For names the client (repeatable)")
	f.IntVar(&o.authFailures, "auth-failures", auth.DefaultFailures, "failed authentications a client may make in a burst before it gets 429")
	f.DurationVar(&o.authWindow, "auth-window", auth.DefaultWindow, "time in which a client's allowance of failed authentications refills")
	f.StringArrayVar(&o.pubkeys, "pubkey", nil, "accept bundles signed with this key at POST /api/v1/bundles (write scope): a minisign .pub or OpenPGP public key file, or a directory of them; repeatable")
	f.IntVar(&o.requireSignatures, "require-signatures", 1, "distinct trusted signers an uploaded bundle needs")
	o.maxBundle, o.minFree, o.minRate = server.DefaultMaxBundleBytes, server.DefaultMinFreeBytes, 4<<10
	f.Var(&o.maxBundle, "max-bundle-size", "largest bundle accepted at POST /api/v1/bundles (413 beyond), e.g. 8GiB, 500MB")
	f.IntVar(&o.maxUploads, "max-uploads", server.DefaultMaxUploads, "uploads (publish and bundles) received at once; more get 429 with Retry-After")
	f.Var(&o.minFree, "min-free-space", "free space an upload must leave on the store's filesystem (507 below it); 0 turns the check off")
	f.IntVar(&o.maxConnsPerClient, "max-conns-per-client", 128, "open connections per client IP address (--trusted-proxy addresses exempt); 0 means no limit")
	f.Var(&o.minRate, "min-rate", "slowest transfer, in bytes per second, a client may keep up while it sends a body or reads an answer; 0 turns the rule off")
	f.DurationVar(&o.stallTimeout, "stall-timeout", time.Minute, "how long a transfer may stay below --min-rate before the connection is cut")
	f.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time for a client to send the request line and headers (and finish the TLS handshake)")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 2*time.Minute, "how long a keep-alive connection may wait for its next request")
	f.DurationVar(&o.catalogEvery, "catalog-refresh", time.Minute, "how often the metadata API's index looks for changes other processes made to the store (module pages are always current; this server's own changes show at once)")
	f.DurationVar(&o.downloadsFlush, "downloads-flush", downloads.DefaultInterval, "how often the downloads served are written to the store, for 'prune --unused-since' (in small batches, never per request); 0 records none")
	f.DurationVar(&o.cleanEvery, "clean-every", time.Hour, "how often to clean crash leftovers and roll back interrupted publishes (also done at start-up)")
	f.StringVar(&o.upstream, "upstream", "", "fill the store from this GOPROXY URL on a miss (fill-through caching proxy)")
	f.StringVar(&o.upstreamSumDB, "upstream-sumdb", "", "verifier key (NAME+HASH+KEY) of the checksum database fetched modules are checked against, through the upstream's /sumdb/; default sum.golang.org")
	f.StringVar(&o.private, "private", "", "with --upstream: module path patterns (comma-separated globs, as GOPRIVATE) stored without the checksum-database check")
	f.DurationVar(&o.upstreamTTL, "upstream-ttl", fillthrough.DefaultListTTL, "with --upstream: how long upstream @v/list, @latest, not-found and checksum-database latest answers are kept")
	// A CPU profile of the whole run, written at shutdown: a file for
	// the operator who asked, never an endpoint.
	return cmd
}

func runServe(ctx context.Context, o serveOptions, log *slog.Logger) error {
	if o.maxUploads <= 0 || o.maxBundle <= 0 {
		return errors.New("--max-uploads and --max-bundle-size must be positive")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	trusted, err := parsePrefixes(o.trustedProxies)
	if err != nil {
		return err
	}
	st, tokens, err := openStoreTokens(ctx, o.store)
	if err != nil {
		return err
	}
	defer tokens.Close()
	alog, err := openAudit(st)
	if err != nil {
		return err
	}
	defer alog.Close()
	cache := o.cacheBytes
	if cache == 0 {
		cache = -1
	}
	var zipCache *proxy.ZipCache
	if o.zipCacheDir != "" {
		if _, local := st.(store.Local); local {
			return usagef("--zip-cache-dir is for a store kept elsewhere (s3://); a store on local disk serves its zips from its own files")
		}
		if zipCache, err = proxy.OpenZipCache(o.zipCacheDir, int64(o.zipCacheSize)); err != nil {
			return fmt.Errorf("--zip-cache-dir: %w", err)
		}
		defer zipCache.Close()
	}
	bundleTrust := trust.Policy{Require: o.requireSignatures}
	if len(o.pubkeys) > 0 {
		if bundleTrust.Keys, err = trust.Load(o.pubkeys...); err != nil {
			return fmt.Errorf("--pubkey: %w", err)
		}
	}
	var filler *fillthrough.Filler
	if o.upstream != "" {
		filler, err = fillthrough.New(st, fillthrough.Options{
			Upstream: o.upstream, SumDB: o.upstreamSumDB, Private: o.private,
			ListTTL: o.upstreamTTL, Logger: log,
		})
		if err != nil {
			return usagef("--upstream: %v", err)
		}
	} else if o.upstreamSumDB != "" || o.private != "" {
		return usagef("--upstream-sumdb and --private need --upstream")
	}
	var recorder *downloads.Recorder
	if o.downloadsFlush > 0 {
		recorder = downloads.New(st, downloads.Options{Interval: o.downloadsFlush})
	}
	srv := server.New(server.Config{
		Downloads: recorder,
		Upstream:  filler,
		Store:     st, Logger: log, CacheBytes: cache, ZipCache: zipCache,
		Tokens: tokens, RequireAuth: o.requireAuth, AllowAnonymousRead: o.anonymousRead,
		Limiter:        &auth.Limiter{Failures: o.authFailures, Window: o.authWindow},
		TrustedProxies: trusted,
		Audit:          alog,
		BundleTrust:    bundleTrust,
		MaxBundleBytes: int64(o.maxBundle),
		MaxUploads:     o.maxUploads,
		MinFreeBytes:   cmp.Or(int64(o.minFree), -1),
		MinRate:        int64(o.minRate),
		StallGrace:     o.stallTimeout,
	})
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: o.readHeaderTimeout,
		IdleTimeout:       o.idleTimeout,
		ErrorLog:          nil,
		// Zips are sent corked (package cork): their headers leave with
		// the body's first full segment.
		ConnContext: cork.ConnContext,
	}
	scheme := "http"
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port?)", o.addr, err)
	}
	ln = connlimit.Listen(ln, connlimit.Options{
		PerClient: o.maxConnsPerClient, Exempt: trusted,
		MinRate: int64(o.minRate), Grace: o.stallTimeout,
	})
	url := scheme + "://" + ln.Addr().String()
	switch n := tokens.Count(); {
	case o.requireAuth && n == 0:
		log.Warn("--require-auth is set but no token exists: every request will get 401; create one with 'modferry token add'")
	case n == 0 && !o.requireAuth:
		log.Warn("no access tokens: anyone who reaches this server can read every module; 'modferry token add' turns authentication on")
	}
	if scheme == "http" && (tokens.Count() > 0 || o.requireAuth) {
		log.Warn("tokens over plain HTTP: the go command sends credentials only over HTTPS; use --tls-cert/--tls-key or a TLS reverse proxy")
	}
	if err := srv.Start(ctx, map[string]string{"addr": ln.Addr().String(), "scheme": scheme, "version": toolVersion()}); err != nil {
		ln.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	srv.StartHousekeeping(ctx, o.cleanEvery)
	// The catalog builds in the background: GOPROXY requests are served
	// at once, and the metadata API and the web catalog answer Partial
	// until the first pass is done.
	go srv.Catalog().Run(ctx, o.catalogEvery, func(err error) {
		log.Warn("indexing the store for the metadata API and the web catalog", "err", err)
	})
	recorded := make(chan struct{})
	if recorder != nil {
		rctx, stopRecording := context.WithCancel(context.WithoutCancel(ctx))
		defer func() { stopRecording(); <-recorded }()
		go func() {
			defer close(recorded)
			recorder.Run(rctx, func(err error) { log.Warn("recording downloads for prune --unused-since", "err", err) })
		}()
	}
	log.Info("serving", "store", storeString(st), "url", url, "tokens", tokens.Count())
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			serveErr = fmt.Errorf("shutdown: %w", err)
		} else if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	if err := srv.Stop(context.Background()); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("audit log: %w", err)
	}
	return serveErr
}

// parsePrefixes parses addresses and CIDR prefixes.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, usagef("--trusted-proxy %q: want an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// byteSize is a flag value in bytes, written as a number with an optional
// unit: 1500, 64KiB, 500MB, 8GiB (KB/MB/GB are powers of 1000, KiB/MiB/GiB
// of 1024).
type byteSize int64

func (b *byteSize) String() string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if *b != 0 && int64(*b)%u.n == 0 {
			return strconv.FormatInt(int64(*b)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Type() string { return "size" }

func (b *byteSize) Set(s string) error {
	num := strings.TrimRight(s, "KMGTiBb")
	unit := strings.TrimPrefix(s, num)
	mult := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "KB": 1e3, "M": 1 << 20, "MiB": 1 << 20, "MB": 1e6,
		"G": 1 << 30, "GiB": 1 << 30, "GB": 1e9, "T": 1 << 40, "TiB": 1 << 40, "TB": 1e12}[unit]
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || mult == 0 || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q: want a size such as 1500, 64KiB, 500MB or 8GiB", s)
	}
	*b = byteSize(n * mult)
	return nil
}
