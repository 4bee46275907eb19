package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/progress"
)

func newShowCmd() *cobra.Command {
	var o catalogOptions
	cmd := &cobra.Command{
		Use:   "show MODULE[@VERSION] [--store DIR | --server URL [--token T]] [--json]",
		Short: "Show a module: its versions, where they came from, requirements and dependents",
		Long: `Show what a store holds of a module: each version with its time, zip and
go.mod sizes, h1: hashes, Go version, whether it is retracted (by the latest
go.mod) or only its go.mod is held, its licences (SPDX identifiers found in
the zip's licence files), and where it came from (the imported
bundle, or a publish); the latest version ("go get M@latest"), a deprecation
notice; the requirements of the latest version's go.mod (or of VERSION's);
and the dependents, the modules in the store that require it.

It reads a local store (--store, indexed on the spot, so dependents are
complete) or a server's metadata API (--server, with a token with the read
scope in --token or $MODFERRY_TOKEN; the server lists the first 100
dependents). An unknown module or version is an error.

Prints text on a terminal and JSON (the API's module page) otherwise, or when
--json is given.`,
		Example: `  modferry show golang.org/x/text --store /srv/modferry
  modferry show github.com/BurntSushi/toml@v1.3.2 --server https://modferry.internal
  modferry show golang.org/x/net --server https://modferry.internal --json | jq '.versions[0]'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, version, _ := strings.Cut(args[0], "@")
			if err := module.CheckPath(path); err != nil {
				return usagef("%s: %v", args[0], err)
			}
			src, err := o.source(cmd.Context())
			if err != nil {
				return err
			}
			m, err := src.module(cmd.Context(), path, version)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.asJSON(w) {
				return printJSON(w, m)
			}
			printModule(w, m, version)
			return nil
		},
	}
	addCatalogFlags(cmd, &o)
	return cmd
}

// printModule prints a module page as text; version, if set, is the
// version asked for, marked in the table.
func printModule(w io.Writer, m *api.Module, version string) {
	fmt.Fprintf(w, "%s\n", m.Path)
	if m.Latest != "" {
		fmt.Fprintf(w, "  latest:      %s\n", m.Latest)
	}
	if m.Deprecated != "" {
		fmt.Fprintf(w, "  deprecated:  %s\n", m.Deprecated)
	}
	if m.Partial {
		fmt.Fprintf(w, "  (the server is still indexing the store: dependents may be missing)\n")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VERSION\tTIME\tZIP\tGO\tLICENCES\tFROM\tNOTES")
	for _, v := range m.Versions {
		mark := " "
		if v.Version == version {
			mark = "*"
		}
		when := "-"
		if !v.Time.IsZero() {
			when = v.Time.UTC().Format(time.DateOnly)
		}
		size := "-"
		if !v.GoModOnly {
			size = progress.Bytes(v.ZipSize)
		}
		var notes []string
		if v.GoModOnly {
			notes = append(notes, "go.mod only")
		}
		if v.Retracted {
			notes = append(notes, "retracted")
			if v.RetractRationale != "" {
				notes[len(notes)-1] += ": " + v.RetractRationale
			}
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, v.Version, when, size, orDash(v.GoVersion), orDash(strings.Join(v.Licenses, ", ")), originText(v.Origin), strings.Join(notes, "; "))
	}
	tw.Flush()
	if version != "" {
		for _, v := range m.Versions {
			if v.Version == version {
				fmt.Fprintf(w, "\n  %s %s %s\n  %s %s/go.mod %s\n", m.Path, v.Version, orDash(v.ZipHash), m.Path, v.Version, orDash(v.ModHash))
			}
		}
	}
	fmt.Fprintf(w, "\nRequires (go.mod of %s): %d\n", m.RequiresOf, len(m.Requires))
	for _, r := range m.Requires {
		ind := ""
		if r.Indirect {
			ind = " // indirect"
		}
		fmt.Fprintf(w, "  %s %s%s\n", r.Path, r.Version, ind)
	}
	fmt.Fprintf(w, "\nRequired by: %d module(s)\n", m.DependentsTotal)
	for _, d := range m.Dependents {
		var vs []string
		for _, dv := range d.Versions {
			vs = append(vs, dv.Version+" → "+dv.Requires)
		}
		fmt.Fprintf(w, "  %s (%s)\n", d.Path, strings.Join(vs, ", "))
	}
	if n := m.DependentsTotal - len(m.Dependents); n > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", n)
	}
}

func originText(o *api.Origin) string {
	switch {
	case o == nil:
		return "-"
	case o.Kind == api.OriginBundle:
		return "bundle " + o.Bundle[:min(12, len(o.Bundle))]
	case o.Actor != "":
		return "publish by " + o.Actor
	}
	return o.Kind
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
