package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"modferry/internal/server"
)

type serveOptions struct {
	store      string
	addr       string
	cacheBytes int
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve --store DIR --addr HOST:PORT",
		Short: "Serve the store as a GOPROXY",
		Long: `Serve the module store over HTTP as a GOPROXY (the go command's module
proxy protocol), with /healthz and Prometheus /metrics.

Point go clients at it with the lines 'modferry env --server URL' prints.
The server answers until SIGINT or SIGTERM, then finishes the requests in
flight and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), o)
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:3000", "listen address")
	cmd.Flags().IntVar(&o.cacheBytes, "cache-bytes", 8<<20, "memory for caching small module files (.info, .mod); 0 turns it off")
	return cmd
}

func runServe(ctx context.Context, o serveOptions) error {
	log, err := newLogger(os.Stderr)
	if err != nil {
		return err
	}
	st, err := openStore(o.store)
	if err != nil {
		return err
	}
	cache := o.cacheBytes
	if cache == 0 {
		cache = -1
	}
	srv := server.New(server.Config{Store: st, Logger: log, CacheBytes: cache})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port?)", o.addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	url := "http://" + ln.Addr().String()
	log.Info("serving", "store", st.Root(), "url", url)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
