package main

import (
	"github.com/spf13/cobra"
)

type searchOptions struct {
	catalogOptions
	limit int
}

func newSearchCmd() *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search QUERY [--limit N] [--store DIR | --server URL [--token T]] [--json]",
		Short: "Find modules whose path contains QUERY",
		Long: `Find the modules of a store whose path contains QUERY, ignoring case, and
show each with its latest version and how many versions the store holds.
It reads a local store (--store, indexed on the spot) or a server's metadata
API (--server, with a token with the read scope in --token or
$MODFERRY_TOKEN).

Prints a table on a terminal and JSON ({"modules": [...], "more": true when
--limit cut the list}) otherwise, or when --json is given.`,
		Example: `  modferry search yaml --store /srv/modferry
  modferry search golang.org/x/ --server https://modferry.internal --limit 10
  modferry search logrus --server https://modferry.internal --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := o.source(cmd.Context())
			if err != nil {
				return err
			}
			mods, more, err := searchAll(cmd.Context(), src, args[0], "", o.limit)
			if err != nil {
				return err
			}
			return printModules(cmd.OutOrStdout(), o.catalogOptions, mods, more)
		},
	}
	addCatalogFlags(cmd, &o.catalogOptions)
	cmd.Flags().IntVar(&o.limit, "limit", 50, "show at most this many modules (0: all)")
	return cmd
}
