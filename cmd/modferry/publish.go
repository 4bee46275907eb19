package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/publish"
)

type publishOptions struct {
	store    string
	storeSet bool
	remote   remoteOptions
	fromGit  string
	subdir   string
	time     string
	json     bool
}

// remoteOptions select a server instead of a local store.
type remoteOptions struct {
	server string
	token  string
}

func addRemoteFlags(cmd *cobra.Command, o *remoteOptions, scope string) {
	cmd.Flags().StringVar(&o.server, "server", "", "URL of a modferry server to work on instead of a local store")
	cmd.Flags().StringVar(&o.token, "token", "", "token with the "+scope+" scope for --server (default: $MODFERRY_TOKEN)")
}

func (o remoteOptions) remote() *api.Client {
	tok := o.token
	if tok == "" {
		tok = os.Getenv("MODFERRY_TOKEN")
	}
	return &api.Client{URL: o.server, Token: tok}
}

// client is remote after checking that --server is an http(s) URL (a
// bare host:port would reach the client as an unsupported scheme).
func (o remoteOptions) client() (*api.Client, error) {
	if err := checkServerURL(o.server); err != nil {
		return nil, err
	}
	return o.remote(), nil
}

// checkServerURL checks a --server value.
func checkServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--server %q: want an http:// or https:// URL, such as https://%s", s, strings.TrimPrefix(strings.TrimPrefix(s, "//"), "/"))
	}
	return nil
}

func newPublishCmd() *cobra.Command {
	var o publishOptions
	cmd := &cobra.Command{
		Use:   "publish MODULE@VERSION [SRCDIR | --from-git REPO@TAG]",
		Short: "Publish a private module version from a directory or a git tag",
		Long: `Publish a private module version: build its module zip by the go
command's rules (golang.org/x/mod/zip: no vendor/ or nested modules, no
.git, size limits; the go.mod at the root must declare MODULE), and add it
with its .mod and .info to a local store (--store) or upload it to a server
(--server, needing a token with the write scope). The server checks the
upload again.

Versions are immutable: publishing a version the store has, had, or holds
in part is refused. go clients then fetch the module like any other; set
GOPRIVATE or GONOSUMDB for its path, since no public checksum database
knows it.

The commit takes the store's import lock, as import and prune do. If an
import holds it for more than 10 s, publish gives up without changing
anything ("an import is running on this store ... retry once it has
finished"; a server answers 503 with Retry-After): run it again.

SRCDIR defaults to the current directory. With --from-git, the files come
from a tag (or commit) of a local git work tree, as a VCS host would serve
them, and the .info time is the commit time.`,
		Example: `  modferry publish --store /srv/modferry corp.example/lib@v1.4.0 ./lib
  modferry publish --server https://modferry.internal --token "$T" corp.example/lib@v1.4.0 .
  modferry publish --store /srv/modferry --from-git ~/src/lib@v1.4.0 corp.example/lib@v1.4.0`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.storeSet = cmd.Flags().Changed("store")
			return runPublish(cmd.Context(), cmd.OutOrStdout(), o, args)
		},
	}
	addStoreFlag(cmd, &o.store)
	addRemoteFlags(cmd, &o.remote, "write")
	cmd.Flags().StringVar(&o.fromGit, "from-git", "", "build from REPO@TAG: a tag or commit of a local git work tree")
	cmd.Flags().StringVar(&o.subdir, "subdir", "", "with --from-git, the module's directory inside the repository")
	cmd.Flags().StringVar(&o.time, "time", "", "time for the .info file (RFC 3339; default: now, or the commit time with --from-git)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

// parseModuleVersion parses MODULE@VERSION.
func parseModuleVersion(arg string) (module.Version, error) {
	path, ver, ok := strings.Cut(arg, "@")
	if !ok || path == "" || ver == "" {
		return module.Version{}, usagef("%q: want MODULE@VERSION, such as corp.example/lib@v1.2.0", arg)
	}
	v := module.Version{Path: path, Version: ver}
	if err := module.Check(path, ver); err != nil {
		return module.Version{}, asUsage(err)
	}
	if c := module.CanonicalVersion(ver); c != ver {
		return module.Version{}, usagef("%s: version %q is not canonical (want %q)", path, ver, c)
	}
	return v, nil
}

func runPublish(ctx context.Context, w io.Writer, o publishOptions, args []string) error {
	v, err := parseModuleVersion(args[0])
	if err != nil {
		return err
	}
	if o.remote.server != "" && o.storeSet {
		return usagef("give --store or --server, not both")
	}
	var when time.Time
	if o.time != "" {
		if when, err = time.Parse(time.RFC3339, o.time); err != nil {
			return usagef("--time: %w", err)
		}
	}
	m, err := buildModule(ctx, v, o, args[1:], when)
	if err != nil {
		return err
	}
	defer m.Close()

	where := o.remote.server
	if o.remote.server != "" {
		c, err := o.remote.client()
		if err != nil {
			return err
		}
		if err := upload(ctx, c, m); err != nil {
			return fmt.Errorf("publish %s: %w", v, err)
		}
	} else {
		st, err := openStore(ctx, o.store)
		if err != nil {
			return err
		}
		where = storeString(st)
		c, err := beginChange(ctx, st, audit.Entry{Action: audit.ActionPublish, Target: v.String()})
		if err != nil {
			return err
		}
		m.AuditIntent = c.in.Entry().Seq
		perr := publish.Publish(ctx, &modules.Repo{Store: st}, m)
		result, d := audit.ResultOK, map[string]string{"h1": m.Hash, "goModH1": m.ModHash}
		if perr != nil {
			result, d = audit.ResultError, map[string]string{"error": perr.Error()}
			if errors.Is(perr, fs.ErrExist) {
				result = audit.ResultDenied
			}
		}
		if err := c.finish(ctx, result, d); err != nil {
			if perr != nil {
				return fmt.Errorf("%w (and %v)", perr, err)
			}
			return err
		}
		if perr != nil {
			return perr
		}
	}
	if o.json {
		return printJSON(w, publish.ResultOf(m))
	}
	fmt.Fprintf(w, "published %s to %s\n", v, where)
	fmt.Fprintf(w, "%s %s %s\n%s %s/go.mod %s\n", v.Path, v.Version, m.Hash, v.Path, v.Version, m.ModHash)
	return nil
}

// upload publishes m on the server c.
func upload(ctx context.Context, c *api.Client, m *publish.Module) error {
	zf, err := os.Open(m.ZipPath)
	if err != nil {
		return err
	}
	defer zf.Close()
	_, err = c.Publish(ctx, m.Version, m.Mod, zf, m.Time)
	return err
}

func buildModule(ctx context.Context, v module.Version, o publishOptions, rest []string, when time.Time) (*publish.Module, error) {
	if o.fromGit != "" {
		if len(rest) > 0 {
			return nil, usagef("give SRCDIR or --from-git, not both")
		}
		i := strings.LastIndex(o.fromGit, "@")
		if i <= 0 || i == len(o.fromGit)-1 {
			return nil, usagef("--from-git %q: want REPO@TAG", o.fromGit)
		}
		m, err := publish.FromGit(ctx, v, o.fromGit[:i], o.fromGit[i+1:], o.subdir)
		if err == nil && !when.IsZero() {
			m.Time = when
		}
		return m, err
	}
	if o.subdir != "" {
		return nil, usagef("--subdir goes with --from-git")
	}
	dir := "."
	if len(rest) > 0 {
		dir = rest[0]
	}
	return publish.FromDir(v, dir, when)
}
