package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the access tokens of a store",
		Long: `Manage the access tokens a modferry server accepts. Only a hash of each
token is stored (STORE/tokens, mode 0600); the secret is printed once, by
'token add'. A running server sees changes within a second. Once any
token exists, the server requires one on every request but /healthz.

Scopes: read (modules, checksum database, GET API, /metrics), write
(publish), delete (delete versions), admin (tokens over HTTP). None
implies another.`,
	}
	cmd.AddCommand(newTokenAddCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return cmd
}

type tokenAddOptions struct {
	store   string
	name    string
	scopes  string
	expires string
	server  string
	json    bool
}

func newTokenAddCmd() *cobra.Command {
	var o tokenAddOptions
	cmd := &cobra.Command{
		Use:   "add --name NAME --scope read[,write,delete,admin] [--expires 90d]",
		Short: "Create a token and print its secret, once",
		Long: `Create a token and print its secret on standard output, alone on one line
(so that TOKEN=$(modferry token add ...) works). The secret is not stored
and cannot be shown again; a lost token is revoked and replaced. A hint
for .netrc goes to standard error.`,
		Example: `  modferry token add --store /srv/modferry --name ci --scope read --expires 90d
  modferry token add --store /srv/modferry --name release --scope read,write`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenAdd(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVar(&o.name, "name", "", "token name: 1-64 of a-z 0-9 . _ - (required)")
	cmd.Flags().StringVar(&o.scopes, "scope", "read", "comma-separated scopes: read, write, delete, admin")
	cmd.Flags().StringVar(&o.expires, "expires", "", "lifetime (90d, 12h) or expiry time (2026-01-31, RFC 3339); empty: never")
	cmd.Flags().StringVar(&o.server, "server", "", "server URL, to fill in the .netrc hint")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the new token as JSON (secret included)")
	cmd.MarkFlagRequired("name")
	return cmd
}

func runTokenAdd(ctx context.Context, stdout, stderr io.Writer, o tokenAddOptions) error {
	scopes, err := auth.ParseScopes(o.scopes)
	if err != nil {
		return usagef("--scope: %w", err)
	}
	var expires time.Time
	if o.expires != "" {
		if expires, err = parseExpiry(o.expires, time.Now()); err != nil {
			return err
		}
	}
	st, tokens, err := openExistingStoreTokens(ctx, o.store)
	if err != nil {
		return err
	}
	defer tokens.Close()
	c, err := beginChange(ctx, st, audit.Entry{Action: audit.ActionTokenAdd, Target: o.name})
	if err != nil {
		return err
	}
	secret, err := tokens.Add(o.name, scopes, expires)
	if err != nil {
		if ferr := c.finish(ctx, audit.ResultDenied, map[string]string{"error": err.Error()}); ferr != nil {
			return fmt.Errorf("%w (and %v)", err, ferr)
		}
		return err
	}
	d := map[string]string{"scopes": auth.FormatScopes(scopes)}
	if !expires.IsZero() {
		d["expires"] = expires.UTC().Format(time.RFC3339)
	}
	if err := c.finish(ctx, audit.ResultOK, d); err != nil {
		// The command fails, so the secret is not shown: the token exists
		// but nobody has it.
		return fmt.Errorf("%w; the secret is not shown: revoke the token with 'modferry token revoke %s' and add another", err, o.name)
	}
	if o.json {
		return printJSON(stdout, struct {
			Name    string       `json:"name"`
			Scopes  []auth.Scope `json:"scopes"`
			Expires time.Time    `json:"expires,omitzero"` // left out: never
			Secret  string       `json:"secret"`
		}{o.name, scopes, expires.UTC(), secret})
	}
	fmt.Fprintln(stdout, secret)
	host := "HOST:PORT"
	if u, err := url.Parse(o.server); err == nil && u.Host != "" {
		host = u.Host
	}
	exp := "never expires"
	if !expires.IsZero() {
		exp = "expires " + expires.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(stderr, "token %q (%s, %s) created; the secret above is shown only this once.\n", o.name, auth.FormatScopes(scopes), exp)
	fmt.Fprintf(stderr, "for the go command (GOAUTH=netrc, the default), add to ~/.netrc or the file $NETRC names:\n")
	fmt.Fprintf(stderr, "machine %s login modferry password %s\n", host, secret)
	return nil
}

// parseExpiry reads a lifetime ("90d", "12h", "1h30m") or an expiry time
// (RFC 3339 or a date, 2006-01-02, meaning its start in UTC).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := parseLongDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--expires %q: want a positive lifetime", s)
		}
		return now.Add(d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("--expires %q: want a lifetime (90d, 12h) or a time (2026-01-31, RFC 3339)", s)
}

// parseLongDuration is time.ParseDuration with days: "90d", "1d12h".
func parseLongDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(days)
	if err != nil || n < 0 || n > 100000 {
		return 0, errors.New("bad day count")
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		d += r
	}
	return d, nil
}

type tokenListOptions struct {
	store string
	json  bool
}

func newTokenListCmd() *cobra.Command {
	var o tokenListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens: names, scopes, creation, expiry and last use (never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, tokens, err := openExistingStoreTokens(cmd.Context(), o.store)
			if err != nil {
				return err
			}
			defer tokens.Close()
			list, err := tokens.List()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.json {
				if list == nil {
					list = []auth.Info{}
				}
				return printJSON(w, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(w, "no tokens: the server is open to anyone who can reach it")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tCREATED\tEXPIRES\tLAST USED")
			now := time.Now()
			for _, t := range list {
				exp := "never"
				if !t.Expires.IsZero() {
					exp = fmtTime(t.Expires)
					if !now.Before(t.Expires) {
						exp += " (expired)"
					}
				}
				used := "never"
				if !t.LastUsed.IsZero() {
					used = fmtTime(t.LastUsed)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, auth.FormatScopes(t.Scopes), fmtTime(t.Created), exp, used)
			}
			return tw.Flush()
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }

func newTokenRevokeCmd() *cobra.Command {
	var store, name string
	cmd := &cobra.Command{
		Use:   "revoke NAME | --name NAME",
		Short: "Revoke a token; a running server refuses it within a second",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// NAME as token add takes it (--name), or positional.
			switch {
			case len(args) == 1 && name != "" && args[0] != name:
				return usagef("give the token's name once: %q or --name %q", args[0], name)
			case len(args) == 1:
				name = args[0]
			case name == "":
				return usagef("give the name of the token to revoke: modferry token revoke NAME")
			}
			args = []string{name}
			st, tokens, err := openExistingStoreTokens(cmd.Context(), store)
			if err != nil {
				return err
			}
			defer tokens.Close()
			ctx := cmd.Context()
			c, err := beginChange(ctx, st, audit.Entry{Action: audit.ActionTokenRevoke, Target: args[0]})
			if err != nil {
				return err
			}
			if err := tokens.Revoke(args[0]); err != nil {
				if ferr := c.finish(ctx, audit.ResultDenied, map[string]string{"error": err.Error()}); ferr != nil {
					return fmt.Errorf("%w (and %v)", err, ferr)
				}
				return err
			}
			if err := c.finish(ctx, audit.ResultOK, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %q revoked\n", args[0])
			return nil
		},
	}
	addStoreFlag(cmd, &store)
	cmd.Flags().StringVar(&name, "name", "", "the token's name (or give it as the argument)")
	return cmd
}
