package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/server"
	"github.com/modferry/modferry/internal/trust"
)

type serveOptions struct {
	store      string
	addr       string
	cacheBytes int

	requireAuth    bool
	anonymousRead  bool
	tlsCert        string
	tlsKey         string
	trustedProxies []string
	authFailures   int
	authWindow     time.Duration
	pubkeys        []string

	requireSignatures int
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve --store DIR --addr HOST:PORT",
		Short: "Serve the store as a GOPROXY",
		Long: `Serve the module store over HTTP as a GOPROXY (the go command's module
proxy protocol), with the publish/delete/token API, /healthz and Prometheus
/metrics.

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
change (507, or 503 on a read-only store) until it can.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), o)
		},
	}
	addStoreFlag(cmd, &o.store)
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:3000", "listen address")
	f.IntVar(&o.cacheBytes, "cache-bytes", 8<<20, "memory for caching small module files (.info, .mod); 0 turns it off")
	f.BoolVar(&o.requireAuth, "require-auth", false, "require a token even while no token exists")
	f.BoolVar(&o.anonymousRead, "allow-anonymous-read", false, "let requests without a token read modules even when tokens exist")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file for --tls-cert")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy whose X-Forwarded-For names the client (repeatable)")
	f.IntVar(&o.authFailures, "auth-failures", auth.DefaultFailures, "failed authentications a client may make in a burst before it gets 429")
	f.DurationVar(&o.authWindow, "auth-window", auth.DefaultWindow, "time in which a client's allowance of failed authentications refills")
	f.StringArrayVar(&o.pubkeys, "pubkey", nil, "accept bundles signed with this key at POST /api/v1/bundles (write scope): a minisign .pub or OpenPGP public key file, or a directory of them; repeatable")
	f.IntVar(&o.requireSignatures, "require-signatures", 1, "distinct trusted signers an uploaded bundle needs")
	return cmd
}

func runServe(ctx context.Context, o serveOptions) error {
	log, err := newLogger(os.Stderr)
	if err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	trusted, err := parsePrefixes(o.trustedProxies)
	if err != nil {
		return err
	}
	st, tokens, err := openStoreTokens(o.store)
	if err != nil {
		return err
	}
	defer tokens.Close()
	alog, err := openAudit(st.Root())
	if err != nil {
		return err
	}
	defer alog.Close()
	cache := o.cacheBytes
	if cache == 0 {
		cache = -1
	}
	bundleTrust := trust.Policy{Require: o.requireSignatures}
	if len(o.pubkeys) > 0 {
		if bundleTrust.Keys, err = trust.Load(o.pubkeys...); err != nil {
			return fmt.Errorf("--pubkey: %w", err)
		}
	}
	srv := server.New(server.Config{
		Store: st, Logger: log, CacheBytes: cache,
		Tokens: tokens, RequireAuth: o.requireAuth, AllowAnonymousRead: o.anonymousRead,
		Limiter:        &auth.Limiter{Failures: o.authFailures, Window: o.authWindow},
		TrustedProxies: trusted,
		Audit:          alog,
		BundleTrust:    bundleTrust,
	})
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
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
	log.Info("serving", "store", st.Root(), "url", url, "tokens", tokens.Count())
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
			return nil, fmt.Errorf("--trusted-proxy %q: want an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
