package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/vulndb"
)

type vulnsOptions struct {
	store     string
	json      bool
	withdrawn bool
}

func newVulnsCmd() *cobra.Command {
	var o vulnsOptions
	cmd := &cobra.Command{
		Use:   "vulns --store DIR [--json]",
		Short: "List stored module versions with known vulnerabilities",
		Long: `List every module version in the store that an entry of the store's Go
vulnerability database affects, with the entry's ID, its aliases (CVE,
GHSA) and the version that fixes it. The database comes in bundles made
with 'export --vulndb'; an import keeps the newest one.

This looks at module versions only. For what a program actually calls, run
govulncheck against the server: govulncheck -db URL/vulndb ./...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVulns(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.withdrawn, "withdrawn", false, "include withdrawn entries")
	return cmd
}

// vulnsOutput is the --json output of vulns.
type vulnsOutput struct {
	Database vulnsDatabase    `json:"database"`
	Findings []vulndb.Finding `json:"findings"`
}

type vulnsDatabase struct {
	Modified time.Time `json:"modified"`
	Entries  int       `json:"entries"`
}

func runVulns(ctx context.Context, w io.Writer, o vulnsOptions) error {
	st, err := openExistingStore(ctx, o.store)
	if err != nil {
		return err
	}
	db, err := vulndb.Load(ctx, st)
	if errors.Is(err, vulndb.ErrNone) {
		return fmt.Errorf("%s: %w (export with --vulndb and import the bundle)", o.store, err)
	}
	if err != nil {
		return err
	}
	repo := &modules.Repo{Store: st}
	paths, err := repo.ModulePaths(ctx)
	if err != nil {
		return err
	}
	out := vulnsOutput{Database: vulnsDatabase{Modified: db.Modified, Entries: db.Len()}, Findings: []vulndb.Finding{}}
	for _, p := range paths {
		versions, err := repo.Versions(ctx, p)
		if err != nil {
			return err
		}
		out.Findings = append(out.Findings, db.Findings(p, versions, o.withdrawn)...)
	}
	if o.json {
		return printJSON(w, out)
	}
	fmt.Fprintf(w, "vulnerability database of %s, %d entries\n", db.Modified.Format(time.RFC3339), db.Len())
	if len(out.Findings) == 0 {
		fmt.Fprintln(w, "no stored module version is affected by a known vulnerability")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tVERSION\tID\tALIASES\tFIXED\tSUMMARY")
	for _, f := range out.Findings {
		fixed := f.Fixed
		if fixed == "" {
			fixed = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Module, f.Version, f.ID, strings.Join(f.Aliases, ","), fixed, f.Summary)
	}
	return tw.Flush()
}

// printVulnDBImport reports what an import did with a vulnerability
// database.
func printVulnDBImport(w io.Writer, r *importer.VulnDBResult) {
	switch {
	case r == nil:
	case r.Installed:
		fmt.Fprintf(w, "vulnerability database of %s installed\n", r.Modified.Format(time.RFC3339))
	default:
		fmt.Fprintf(w, "vulnerability database of %s kept out: the store's is as new or newer\n", r.Modified.Format(time.RFC3339))
	}
}
