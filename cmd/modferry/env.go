package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type envOptions struct {
	server  string
	private string
	json    bool
}

func newEnvCmd() *cobra.Command {
	var o envOptions
	cmd := &cobra.Command{
		Use:   "env --server URL",
		Short: "Print the environment a go client needs to use a modferry server",
		Long: `Print the environment variables a go client sets to build against a
modferry server, in shell syntax (eval "$(modferry env --server URL)") or,
with --json, as a JSON object.

When the server holds checksum-database proofs (bundles exported with the
default GOSUMDB), GOSUMDB stays at its default and the go command checks
every module against the checksum database through the server, offline.
Private modules, which no database covers, go in GONOSUMDB (--private).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vars, err := clientEnv(o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.json {
				m := map[string]string{}
				for _, v := range vars {
					m[v.name] = v.value
				}
				return printJSON(w, m)
			}
			for _, v := range vars {
				fmt.Fprintf(w, "# %s\nexport %s=%s\n", v.comment, v.name, shellQuote(v.value))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "", "URL of the modferry server (required)")
	cmd.Flags().StringVar(&o.private, "private", "", "comma-separated module path patterns of private modules, for GONOSUMDB")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	cmd.MarkFlagRequired("server")
	return cmd
}

// envVar is one line of a client environment, with an optional comment.
type envVar struct {
	name, value, comment string
}

func clientEnv(o envOptions) ([]envVar, error) {
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q: want an http:// or https:// URL", o.server)
	}
	proxy := strings.TrimSuffix(u.String(), "/")
	vars := []envVar{
		{"GOPROXY", proxy, "modules come only from the modferry server"},
		{"GOFLAGS", "-mod=mod", "let go commands add missing go.sum lines (each checked against the checksum database)"},
	}
	switch {
	case serverHasSumDB(proxy, "sum.golang.org"):
		// GOSUMDB stays at its default: the client fetches checksum
		// proofs through the server. Private modules are in no database.
		if o.private != "" {
			vars = append(vars, envVar{"GONOSUMDB", o.private, "private modules: in no checksum database (do not use GOPRIVATE offline: it also bypasses GOPROXY)"})
		}
	default:
		nosumdb := "*"
		if o.private != "" {
			nosumdb = o.private
		}
		vars = append(vars, envVar{"GONOSUMDB", nosumdb, "the server holds no checksum-database proofs (or could not be asked): go.sum lines are still checked, new modules are trusted from the server"})
	}
	return vars, nil
}

// serverHasSumDB reports whether the server answers for the checksum
// database name.
func serverHasSumDB(proxy, name string) bool {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(proxy + "/sumdb/" + name + "/supported")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
