package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/catalog"
)

// catalogOptions select where ls, search and show read the catalog: a
// local store (--store) or a server's metadata API (--server), and the
// output format.
type catalogOptions struct {
	store  string
	remote remoteOptions
	json   bool
	table  bool
}

func addCatalogFlags(cmd *cobra.Command, o *catalogOptions) {
	addStoreFlag(cmd, &o.store)
	addRemoteFlags(cmd, &o.remote, "read")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON (the default when standard output is not a terminal)")
	cmd.Flags().BoolVar(&o.table, "table", false, "print a table even when standard output is not a terminal")
	cmd.MarkFlagsMutuallyExclusive("json", "table")
}

// asJSON reports whether to print JSON to w: --json, or w is not a
// terminal and --table is not set.
func (o catalogOptions) asJSON(w io.Writer) bool {
	if o.json || o.table {
		return o.json
	}
	f, ok := w.(*os.File)
	return !ok || !term.IsTerminal(int(f.Fd()))
}

// catalogSource answers searches and module pages, from a local store or
// a server.
type catalogSource interface {
	search(ctx context.Context, q, prefix string, limit int, cursor string) (*api.SearchResult, error)
	module(ctx context.Context, path, version string) (*api.Module, error)
}

// localCatalog is the catalog of a local store, built once for the
// command.
type localCatalog struct{ cat *catalog.Catalog }

func (l localCatalog) search(ctx context.Context, q, prefix string, limit int, cursor string) (*api.SearchResult, error) {
	return l.cat.Search(ctx, catalog.Query{Q: q, Prefix: prefix, Limit: limit, Cursor: cursor})
}

func (l localCatalog) module(ctx context.Context, path, version string) (*api.Module, error) {
	return l.cat.Module(ctx, path, catalog.ModuleOptions{Version: version, MaxDependents: -1})
}

type remoteCatalog struct{ c *api.Client }

func (r remoteCatalog) search(ctx context.Context, q, prefix string, limit int, cursor string) (*api.SearchResult, error) {
	return r.c.Search(ctx, q, prefix, limit, cursor)
}

func (r remoteCatalog) module(ctx context.Context, path, version string) (*api.Module, error) {
	return r.c.Module(ctx, path, version)
}

// source opens the catalog o names. A local store is indexed whole
// first when the command searches (full); a module page needs no index
// but the dependents, so show indexes too.
func (o catalogOptions) source(ctx context.Context) (catalogSource, error) {
	if o.remote.server != "" {
		c, err := o.remote.client()
		if err != nil {
			return nil, err
		}
		return remoteCatalog{c}, nil
	}
	if _, err := os.Stat(o.store); err != nil && !isObjectStore(o.store) {
		return nil, fmt.Errorf("--store %s: %w (or give --server)", o.store, err)
	}
	st, err := openExistingStore(ctx, o.store)
	if err != nil {
		return nil, err
	}
	cat := catalog.New(st)
	cat.ReadOnly = true // a command that reads writes nothing to the store
	if err := cat.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("indexing %s: %w", o.store, err)
	}
	return localCatalog{cat}, nil
}

// searchAll pages through a search, stopping after max modules (0: all).
// It reports whether more matched.
func searchAll(ctx context.Context, src catalogSource, q, prefix string, max int) ([]api.ModuleSummary, bool, error) {
	out := []api.ModuleSummary{}
	cursor := ""
	for {
		limit := catalog.MaxLimit
		if max > 0 {
			limit = min(limit, max-len(out)+1) // one more, to tell whether there are more
		}
		res, err := src.search(ctx, q, prefix, limit, cursor)
		if err != nil {
			return nil, false, err
		}
		out = append(out, res.Modules...)
		if max > 0 && len(out) > max {
			return out[:max], true, nil
		}
		if res.Next == "" {
			return out, false, nil
		}
		cursor = res.Next
	}
}

// printModules prints search results as a table or JSON.
func printModules(w io.Writer, o catalogOptions, mods []api.ModuleSummary, more bool) error {
	if o.asJSON(w) {
		return printJSON(w, struct {
			Modules []api.ModuleSummary `json:"modules"`
			More    bool                `json:"more,omitempty"`
		}{mods, more})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tLATEST\tVERSIONS\tGO.MOD ONLY")
	for _, m := range mods {
		latest := m.Latest
		if latest == "" {
			latest = "-"
		}
		if m.Deprecated {
			latest += " (deprecated)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", m.Path, latest, m.Versions, m.GoModOnly)
	}
	tw.Flush()
	if more {
		fmt.Fprintln(w, "(more match: raise --limit, or narrow the query)")
	}
	return nil
}

type lsOptions struct {
	catalogOptions
	prefix string
	limit  int
}

func newLsCmd() *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [--prefix P] [--store DIR | --server URL [--token T]] [--json]",
		Short: "List the modules a store or server holds",
		Long: `List the modules a store holds, by path, with the latest version (the one
"go get M@latest" picks), the number of versions, and the number of
versions held only for their go.mod (the module graph needs them; their zips
are not carried). It reads a local store (--store, indexed on the spot) or a
server's metadata API (--server, with a token with the read scope in --token
or $MODFERRY_TOKEN).

Prints a table on a terminal and JSON ({"modules": [...]}) otherwise, or
when --json is given.`,
		Example: `  modferry ls --store /srv/modferry
  modferry ls --prefix github.com/ --server https://modferry.internal
  MODFERRY_TOKEN=... modferry ls --server https://modferry.internal --json | jq -r '.modules[].path'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := o.source(cmd.Context())
			if err != nil {
				return err
			}
			mods, more, err := searchAll(cmd.Context(), src, "", o.prefix, o.limit)
			if err != nil {
				return err
			}
			return printModules(cmd.OutOrStdout(), o.catalogOptions, mods, more)
		},
	}
	addCatalogFlags(cmd, &o.catalogOptions)
	cmd.Flags().StringVar(&o.prefix, "prefix", "", "only modules whose path starts with this (case-insensitive)")
	cmd.Flags().IntVar(&o.limit, "limit", 0, "list at most this many modules (0: all)")
	return cmd
}
