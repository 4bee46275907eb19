package main

import (
	"fmt"
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
			data, err := inv.Marshal()
			if err != nil {
				return err
			}
			if o.out == "" || o.out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := safefile.WriteFile(o.out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "wrote %s: %d module versions, %d bundles (digest %s)\n", o.out, len(inv.Modules), len(inv.Bundles), inventory.Digest(data)[:16])
			return nil
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}
