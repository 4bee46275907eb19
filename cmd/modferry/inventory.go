package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/safefile"
	"github.com/modferry/modferry/internal/store"
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
'modferry export --since INVENTORY' then leaves out everything listed.
The store keeps a record of the newest inventories (state/inventories/), so
that importing a delta bundle made against one warns about versions
deleted or pruned since, which the delta left out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openExistingStore(cmd.Context(), o.store)
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
				h := sha256.New()
				w := bufio.NewWriterSize(io.MultiWriter(cmd.OutOrStdout(), h), 256<<10)
				if _, err := inv.WriteTo(w); err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return err
				}
				saveBase(cmd.Context(), st, hex.EncodeToString(h.Sum(nil)), inv)
				return nil
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
			digest := hex.EncodeToString(h.Sum(nil))
			fmt.Fprintf(os.Stderr, "wrote %s: %d module versions, %d bundles (digest %s)\n", o.out, len(inv.Modules), len(inv.Bundles), digest[:16])
			saveBase(cmd.Context(), st, digest, inv)
			return nil
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}

// saveBase records in the store what the inventory listed, so that the
// import of a delta bundle made against it can tell what the store lost
// since (inventory.SaveBase). The inventory is written either way: a
// store this process may not write to (read-only) only loses that check.
func saveBase(ctx context.Context, st store.Store, digest string, inv *inventory.Inventory) {
	if err := inventory.SaveBase(ctx, st, digest, inv); err != nil {
		fmt.Fprintf(os.Stderr, "note: could not record the inventory in the store (%v); importing a delta bundle made against it will not check what it left out\n", err)
	}
}
