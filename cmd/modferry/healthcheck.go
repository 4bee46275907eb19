package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

type healthcheckOptions struct {
	url     string
	timeout time.Duration
}

func newHealthcheckCmd() *cobra.Command {
	var o healthcheckOptions
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL]",
		Short: "Exit 0 if a modferry server answers /healthz",
		Long: `Ask a modferry server whether it is ready: GET URL (by default the
/healthz of a server on 127.0.0.1:3000) and exit 0 if it answers 200, 1
otherwise (a server whose store cannot be reached answers 503, and the
error gives its reason). For container HEALTHCHECKs and service managers, where no curl
is at hand (the container image holds nothing but modferry).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return healthcheck(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.url, "url", "http://127.0.0.1:3000/healthz", "health URL of the server (a bare http://host:port means its /healthz)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

func healthcheck(ctx context.Context, o healthcheckOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	// A server's address alone (http://host:port) means its /healthz:
	// its root is the web catalog, which answers 200 whatever the store.
	if u, err := url.Parse(o.url); err == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		u.Path = "/healthz"
		o.url = u.String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url, nil)
	if err != nil {
		return fmt.Errorf("--url %q: %v", o.url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("server not healthy: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		// A modferry server says why on one line.
		why, _, _ := strings.Cut(string(body), "\n")
		if why = strings.TrimSpace(why); why != "" && utf8.ValidString(why) && !strings.HasPrefix(why, "<") {
			return fmt.Errorf("server not healthy: GET %s answered %s: %s", o.url, resp.Status, why)
		}
		return fmt.Errorf("server not healthy: GET %s answered %s", o.url, resp.Status)
	}
	return nil
}
