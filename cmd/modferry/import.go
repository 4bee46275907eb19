package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"modferry/internal/cacheimport"
	"modferry/internal/modules"
	"modferry/internal/progress"
)

type importOptions struct {
	store    string
	cacheDir string
	json     bool
}

func newImportCmd() *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import --store DIR --cache-dir GOMODCACHE",
		Short: "Add modules to the store",
		Long: `Add modules to the store.

With --cache-dir, read a go command module cache (a GOMODCACHE, its
cache/download directory, or a GOPATH) — the tree people copy between
machines today — and add every module version whose files pass the checks:
zips must follow the module zip rules and match their .ziphash, .info files
must name their version. Versions that fail are skipped and reported.`,
		Example: `  modferry import --store ./modferry-data --cache-dir "$(go env GOMODCACHE)"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.cacheDir == "" {
				return errors.New("nothing to import: give --cache-dir DIR")
			}
			if len(args) > 0 {
				return errors.New("--cache-dir takes no bundle arguments")
			}
			return runImportCache(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVar(&o.cacheDir, "cache-dir", "", "import a GOMODCACHE (or its cache/download directory)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

func runImportCache(ctx context.Context, w io.Writer, o importOptions) error {
	st, err := openStore(o.store)
	if err != nil {
		return err
	}
	bar := progress.New("checking", 0)
	res, err := cacheimport.Import(ctx, &modules.Repo{Store: st}, o.cacheDir, cacheimport.Options{
		Progress: func(done, total int) { bar.SetTotal(total); bar.Set(done) },
	})
	bar.Done()
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, res)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Version, s.Reason)
	}
	fmt.Fprintf(w, "imported %d module versions (%s) from %s into %s; %d already present, %d skipped\n",
		len(res.Added), progress.Bytes(res.Bytes), res.Root, st.Root(), len(res.Present), len(res.Skipped))
	return nil
}
