package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/align"
	"github.com/modferry/modferry/internal/modules"
)

type alignOptions struct {
	json       bool
	failOnSkew bool
	allow      string
	write      bool
	store      string
}

func newAlignCmd() *cobra.Command {
	var o alignOptions
	cmd := &cobra.Command{
		Use:   "align [--json] [--fail-on-skew] [--allow FILE] [--write] [--store DIR] DIR...",
		Short: "Report modules that projects select at different versions",
		Long: `Compare the build lists of several projects (module roots or go.work roots)
and report every module they select at different versions: the version
minimal version selection would pick for all (the highest), which projects
lag, and, with --store, whether the store holds that version.

Build lists are the go command's own: 'go list -mod=readonly -m -json all'
in each project, with your GOPROXY, GOFLAGS and other go settings. Nothing
in a project changes unless --write is given.

--fail-on-skew exits 1 when skew remains that the --allow file does not
cover. The allow file holds one rule a line ('#' starts a comment):

    # any versions of these modules may differ
    github.com/corp/legacy-*
    # these versions may coexist, and no others
    golang.org/x/text v0.3.7 v0.14.0

The pattern has GOPRIVATE's glob syntax; a rule with versions covers a skew
only when every selected version is listed.

--write raises every lagging project (skews the allow file covers are left
alone): in a module root 'go get MODULE@VERSION ...' and 'go mod tidy', in a
workspace root 'go get' in the workspace modules that require the module
and 'go work sync'. It prints each go.mod diff, then reports the skew that
remains.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAlign(cmd.Context(), cmd.OutOrStdout(), o, args)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.failOnSkew, "fail-on-skew", false, "exit 1 if skew remains that --allow does not cover")
	cmd.Flags().StringVar(&o.allow, "allow", "", "allow-list `FILE` of intended differences")
	cmd.Flags().BoolVar(&o.write, "write", false, "raise lagging projects with go get and go mod tidy, and show each go.mod diff")
	cmd.Flags().StringVar(&o.store, "store", "", "module store `DIR` to check the aligned versions against")
	return cmd
}

// alignOutput is align's --json output.
type alignOutput struct {
	Projects []*align.Project `json:"projects"`
	Skews    []align.Skew     `json:"skews"`
	// Changes are what --write did; empty without it.
	Changes []align.Change `json:"changes"`
	// Aligned reports whether no skew remains that the allow list does
	// not cover.
	Aligned bool `json:"aligned"`
}

func runAlign(ctx context.Context, w io.Writer, o alignOptions, dirs []string) error {
	var opts align.Options
	if o.allow != "" {
		l, err := align.ReadAllowList(o.allow)
		if err != nil {
			return err
		}
		opts.Allow = l
	}
	if o.store != "" {
		st, err := openExistingStore(ctx, o.store)
		if err != nil {
			return err
		}
		repo := &modules.Repo{Store: st}
		opts.Holds = func(ctx context.Context, v module.Version) (bool, error) {
			vs, err := repo.Versions(ctx, v.Path)
			return slices.Contains(vs, v.Version), err
		}
	}
	r, err := align.Analyze(ctx, dirs, opts)
	if err != nil {
		return err
	}
	out := alignOutput{Changes: []align.Change{}}
	if o.write && len(r.Unallowed()) > 0 {
		changes, werr := align.Write(ctx, r, opts)
		out.Changes = changes
		if werr != nil {
			if o.json {
				out.Projects, out.Skews = r.Projects, r.Skews
				printJSON(w, out)
			} else {
				printChanges(w, changes)
			}
			return werr
		}
		if !o.json {
			printChanges(w, changes)
		}
		if r, err = align.Analyze(ctx, dirs, opts); err != nil {
			return err
		}
	}
	out.Projects, out.Skews = r.Projects, r.Skews
	unallowed := r.Unallowed()
	out.Aligned = len(unallowed) == 0
	if o.json {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else {
		printSkews(w, r)
	}
	if o.failOnSkew && !out.Aligned {
		return fmt.Errorf("%w: %d modules selected at different versions (%s)", align.ErrSkew, len(unallowed), skewNames(unallowed))
	}
	return nil
}

func skewNames(skews []align.Skew) string {
	var names []string
	for _, s := range skews {
		names = append(names, s.Module)
	}
	if len(names) > 5 {
		names = append(names[:5], "...")
	}
	return strings.Join(names, ", ")
}

// printSkews writes the skew table: one row per module, one column per
// project, lagging versions marked with '*'.
func printSkews(w io.Writer, r *align.Report) {
	if len(r.Skews) == 0 {
		fmt.Fprintf(w, "aligned: %d projects select the same version of every shared module\n", len(r.Projects))
		return
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	header := []string{"MODULE", "TARGET"}
	for _, p := range r.Projects {
		header = append(header, p.Dir)
	}
	store := len(r.Skews) > 0 && r.Skews[0].InStore != nil
	if store {
		header = append(header, "IN STORE")
	}
	header = append(header, "NOTE")
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, s := range r.Skews {
		row := []string{s.Module, s.Target}
		for _, p := range r.Projects {
			cell := "-"
			for _, u := range s.Uses {
				if u.Project == p.Dir {
					cell = u.Version
					if u.Lagging {
						cell += " *"
					}
				}
			}
			row = append(row, cell)
		}
		if store {
			row = append(row, map[bool]string{true: "yes", false: "no"}[*s.InStore])
		}
		note := ""
		if s.Allowed {
			note = "allowed: " + s.AllowedBy
		}
		row = append(row, note)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	noun := "modules"
	if len(r.Skews) == 1 {
		noun = "module"
	}
	fmt.Fprintf(w, "\n%d %s skewed (%d allowed); * lags behind the target\n", len(r.Skews), noun, len(r.Skews)-len(r.Unallowed()))
}

// printChanges writes what --write ran and each go.mod diff.
func printChanges(w io.Writer, changes []align.Change) {
	for _, c := range changes {
		fmt.Fprintf(w, "raised %s:", c.Project)
		for _, rs := range c.Raised {
			fmt.Fprintf(w, " %s %s -> %s;", rs.Module, rs.From, rs.To)
		}
		fmt.Fprintln(w)
		for _, cmd := range c.Commands {
			fmt.Fprintf(w, "  %s\n", cmd)
		}
		for _, d := range c.Diffs {
			fmt.Fprint(w, d.Diff)
		}
		fmt.Fprintln(w)
	}
}
