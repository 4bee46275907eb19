package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/safefile"
)

type inventoryOptions struct {
	store string
	out   string
}

func newInventoryCmd() *cobra.Command {
	var o inventoryOptions
	cmd := &cobra.Command{
		Use:   "inventory --store DIR -o INVENTORY",
		Short: "Write what the store holds, for export --since",
		Long: `Write a small JSON file listing every module version the store holds (with
its h1: hashes) and the bundles imported. Carry it to the connected side:
'modferry export --since INVENTORY' then leaves out everything listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd.Context(), o.store)
			if err != nil {
				return err
			}
			inv, err := inventory.Build(cmd.Context(), st)
			if err != nil {
				return err
			}
			// Streamed: the encoded inventory of a large store is never
			// held whole (a million module versions make ~200 MB).
			if o.out == "" || o.out == "-" {
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
				if _, err := inv.WriteTo(w); err != nil {
					return err
				}
				return w.Flush()
			}
			f, err := safefile.Create(o.out, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			h := sha256.New()
			w := bufio.NewWriterSize(io.MultiWriter(f, h), 256<<10)
			if _, err := inv.WriteTo(w); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if err := f.Commit(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "wrote %s: %d module versions, %d bundles (digest %s)\n", o.out, len(inv.Modules), len(inv.Bundles), hex.EncodeToString(h.Sum(nil))[:16])
			return nil
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}
