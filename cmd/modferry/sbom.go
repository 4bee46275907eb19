package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/safefile"
	"github.com/modferry/modferry/internal/sbom"
	"github.com/modferry/modferry/internal/sbom/storedoc"
)

type sbomOptions struct {
	store   string
	project string
	format  string
	out     string
}

func newSBOMCmd() *cobra.Command {
	var o sbomOptions
	cmd := &cobra.Command{
		Use:   "sbom --store DIR [--project NAME] [--format cyclonedx|spdx] [-o FILE]",
		Short: "Write an SBOM of what the store holds, or of one project",
		Long: `Write a software bill of materials (CycloneDX 1.6 or SPDX 2.3 JSON) of every
module version the store holds, or with --project of the module versions one
exported project needs. Licences are read from the stored zips, dependency
edges from the stored go.mod files, and the projects from the SBOMs that
import keeps for each bundle (bundles/<digest>/sbom.cdx.json and
sbom.spdx.json in the store). --project takes the name the bundle manifests
give: the project directory as exported, or a module@version argument.
Module versions carried only for their go.mod are marked as not shipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			write := map[string]func(sbom.Doc) ([]byte, error){"cyclonedx": sbom.CycloneDX, "spdx": sbom.SPDX}[o.format]
			if write == nil {
				return usagef("--format %q: want cyclonedx or spdx", o.format)
			}
			if _, err := os.Stat(o.store); err != nil && !isObjectStore(o.store) {
				return fmt.Errorf("store: %w", err)
			}
			st, err := openExistingStore(cmd.Context(), o.store)
			if err != nil {
				return err
			}
			doc, err := storedoc.Build(cmd.Context(), st, storedoc.Options{Project: o.project, Tool: "modferry " + toolVersion()})
			if err != nil {
				return err
			}
			data, err := write(doc)
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
			fmt.Fprintf(os.Stderr, "wrote %s: %d projects, %d module versions\n", o.out, len(doc.Roots), len(doc.Modules))
			return nil
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVar(&o.project, "project", "", "only this project (a directory or module@version as exported)")
	cmd.Flags().StringVar(&o.format, "format", "cyclonedx", "cyclonedx (1.6 JSON) or spdx (2.3 JSON)")
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}
