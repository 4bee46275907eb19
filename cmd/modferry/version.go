package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, VCS revision and Go version of this modferry",
		Long: `Print what this binary was built from: the module version (set by
'go install MODULE@VERSION'), the VCS revision and commit time (set by
'go build' in a git work tree), and the Go version that built it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bi := buildinfo.Read()
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, bi)
			}
			fmt.Fprintf(w, "modferry %s\n", bi.Version)
			if bi.Revision != "" {
				dirty := ""
				if bi.Modified {
					dirty = " (modified)"
				}
				fmt.Fprintf(w, "revision %s%s, %s\n", bi.Revision, dirty, bi.Time)
			}
			fmt.Fprintf(w, "built with %s for %s\n", bi.GoVersion, bi.Platform)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
