package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/prune"
)

type pruneOptions struct {
	store       string
	apply       bool
	json        bool
	unusedSince string
	keepBundles int
	// keepBundlesSet: --keep-bundles was given
	keepBundlesSet bool
	keep           []string
	toolchains     bool
}

func newPruneCmd() *cobra.Command {
	var o pruneOptions
	cmd := &cobra.Command{
		Use:   "prune --store DIR [--unused-since 180d] [--apply]",
		Short: "Remove module versions nobody needs any more (a dry run unless --apply)",
		Long: `Remove the module versions of a store that nothing needs any more. Without
--apply it only prints what it would remove, and changes nothing.

A version is kept when
  - a publish made it (the store holds the only copy);
  - a keep list names it (--keep FILE: a project's go.sum, or an inventory
    that 'modferry inventory' wrote; repeatable);
  - it is a Go toolchain (golang.org/toolchain), unless --toolchains;
  - a kept bundle lists it (the import history keeps every imported
    bundle's manifest). Every bundle is kept, or with --keep-bundles N the
    N most recently imported;
  - without --unused-since: no bundle lists it. It came from 'import
    --cache-dir' or through a fill-through proxy (serve --upstream), which
    record no manifest; only the download record (--unused-since) can
    tell that it is unused;
  - with --unused-since D (180d, 12h): it was downloaded from a server on
    this store, or arrived in the store, less than D ago. Bundles then keep
    their versions only through --keep-bundles (default none): the
    download record decides. A server records downloads in batches (about
    once a minute), so run it with the server that serves the store.

Everything else is removed, one version at a time, exactly as 'modferry
delete' removes one: the reason is recorded first (a .gone record), then
the files go; the version leaves @v/list and answers 410 Gone with the
reason, so a build whose go.sum pins it says why. Each removal is an audit
log entry (action "prune"). Checksum-database data is never touched.
--apply holds the store's import lock, so no import commits meanwhile, and
is safe while a server runs on the store; killed at any point, it leaves
every version whole or gone, and running it again finishes the job.
A removed version comes back if it is needed again: an import of a bundle
that carries it, or a fill-through proxy (serve --upstream) asked for it,
stores it anew (a version removed with 'modferry delete' stays gone).`,
		Example: `  modferry prune --store /srv/modferry --unused-since 180d          # what would go
  modferry prune --store /srv/modferry --unused-since 180d --apply  # remove it
  modferry prune --store /srv/modferry --keep-bundles 6 --keep service-a/go.sum --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.keepBundlesSet = cmd.Flags().Changed("keep-bundles")
			return runPrune(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	addStoreFlag(cmd, &o.store)
	f := cmd.Flags()
	f.BoolVar(&o.apply, "apply", false, "remove the versions (default: a dry run that changes nothing)")
	f.BoolVar(&o.json, "json", false, "print the plan (and what was removed) as JSON")
	f.StringVar(&o.unusedSince, "unused-since", "", "also remove versions not downloaded for this long (180d, 12h)")
	f.IntVar(&o.keepBundles, "keep-bundles", 0, "keep the versions of the N most recently imported bundles (default: all bundles, or none with --unused-since)")
	f.StringArrayVar(&o.keep, "keep", nil, "keep the versions this go.sum or inventory file names (repeatable)")
	f.BoolVar(&o.toolchains, "toolchains", false, "let Go toolchains (golang.org/toolchain) be removed too")
	return cmd
}

// pruneJSON is the --json output.
type pruneJSON struct {
	DryRun      bool           `json:"dryRun"`
	Versions    int            `json:"versions"`
	Bundles     int            `json:"bundles"`
	KeptBundles int            `json:"keptBundles"`
	Kept        map[string]int `json:"kept"`
	Remove      []pruneEntry   `json:"remove"`
	Removed     int            `json:"removed"`
	// Unfinished: removals that had stopped part way, which --apply
	// finishes.
	Unfinished []string `json:"unfinished,omitempty"`
}

type pruneEntry struct {
	Path           string     `json:"path"`
	Version        string     `json:"version"`
	Reason         string     `json:"reason"`
	LastDownloaded *time.Time `json:"lastDownloaded,omitempty"`
	Arrived        *time.Time `json:"arrived,omitempty"`
}

func runPrune(ctx context.Context, w io.Writer, o pruneOptions) error {
	opts := prune.Options{Toolchains: o.toolchains}
	if o.unusedSince != "" {
		d, err := parseLongDuration(o.unusedSince)
		if err != nil || d <= 0 {
			return usagef("--unused-since %q: want a positive duration (180d, 12h)", o.unusedSince)
		}
		opts.UnusedSince = d
	}
	switch {
	case !o.keepBundlesSet:
	case o.keepBundles < 0:
		return usagef("--keep-bundles %d: want 0 or more", o.keepBundles)
	case o.keepBundles == 0:
		opts.KeepBundles = -1 // none
	default:
		opts.KeepBundles = o.keepBundles
	}
	for _, file := range o.keep {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		vs, err := prune.ParseKeepList(data)
		if err != nil {
			return fmt.Errorf("--keep %s: %w", file, err)
		}
		opts.Keep = append(opts.Keep, vs...)
	}
	st, err := openExistingStore(ctx, o.store)
	if err != nil {
		return err
	}
	var plan *prune.Plan
	removed := 0
	if !o.apply {
		facts, err := prune.Gather(ctx, st)
		if err != nil {
			return err
		}
		plan = prune.Decide(facts, opts)
	} else {
		actor := localActor()
		plan, err = prune.Apply(ctx, st, opts, func(r prune.Removal) error {
			c, err := beginChange(ctx, st, audit.Entry{Actor: actor, Action: audit.ActionPrune, Target: r.String(),
				Detail: map[string]string{"reason": r.Reason}})
			if err != nil {
				return err
			}
			rerr := prune.Remove(ctx, st, r, actor)
			result, d := audit.ResultOK, map[string]string(nil)
			if rerr != nil {
				result, d = audit.ResultError, map[string]string{"error": rerr.Error()}
			}
			if err := c.finish(ctx, result, d); err != nil {
				if rerr != nil {
					return fmt.Errorf("%s: %w (and %v)", r.Version, rerr, err)
				}
				return err
			}
			if rerr != nil {
				return fmt.Errorf("%s: %w", r.Version, rerr)
			}
			removed++
			if !o.json {
				fmt.Fprintf(w, "removed %s: %s\n", r.Version, r.Reason)
			}
			return nil
		})
		if err != nil {
			if plan != nil {
				return fmt.Errorf("prune stopped after removing %d of %d versions: %w", removed, len(plan.Remove), err)
			}
			return err
		}
	}
	if o.json {
		return printJSON(w, pruneResult(plan, !o.apply, removed))
	}
	if !o.apply {
		for _, r := range plan.Remove {
			fmt.Fprintf(w, "would remove %s: %s\n", r.Version, r.Reason)
		}
	}
	printPruneSummary(w, plan, !o.apply, removed)
	return nil
}

func pruneResult(p *prune.Plan, dryRun bool, removed int) pruneJSON {
	out := pruneJSON{DryRun: dryRun, Versions: p.Versions, Bundles: p.Bundles, KeptBundles: p.KeptBundles,
		Kept: p.Kept, Remove: []pruneEntry{}, Removed: removed}
	for _, v := range p.Unfinished {
		out.Unfinished = append(out.Unfinished, v.String())
	}
	for _, r := range p.Remove {
		e := pruneEntry{Path: r.Path, Version: r.Version.Version, Reason: r.Reason}
		if !r.LastUsed.IsZero() {
			t := r.LastUsed.UTC()
			e.LastDownloaded = &t
		}
		if !r.Arrived.IsZero() {
			t := r.Arrived.UTC()
			e.Arrived = &t
		}
		out.Remove = append(out.Remove, e)
	}
	return out
}

// keptLabels name the reasons a version is kept in the text output.
var keptLabels = map[string]string{
	prune.KeptPublished: "published", prune.KeptKeepList: "on a keep list", prune.KeptToolchain: "toolchains",
	prune.KeptUnbundled: "from a module cache or upstream", prune.KeptBundle: "in kept bundles", prune.KeptRecent: "used recently", prune.KeptBusy: "being written",
}

func printPruneSummary(w io.Writer, p *prune.Plan, dryRun bool, removed int) {
	var kept []string
	n := 0
	for why, c := range p.Kept {
		kept = append(kept, fmt.Sprintf("%d %s", c, keptLabels[why]))
		n += c
	}
	slices.Sort(kept)
	keptText := ""
	if len(kept) > 0 {
		keptText = " (" + strings.Join(kept, ", ") + ")"
	}
	if n := len(p.Unfinished); n > 0 {
		if dryRun {
			fmt.Fprintf(w, "%d earlier removals stopped part way (their versions answer 410 already); --apply finishes them\n", n)
		} else {
			fmt.Fprintf(w, "finished %d earlier removals that had stopped part way\n", n)
		}
	}
	if dryRun {
		fmt.Fprintf(w, "dry run: would remove %d of %d versions, keep %d%s; %d of %d bundles keep their versions. Nothing was changed; --apply removes.\n",
			len(p.Remove), p.Versions, n, keptText, p.KeptBundles, p.Bundles)
		return
	}
	fmt.Fprintf(w, "removed %d of %d versions, kept %d%s; %d of %d bundles keep their versions\n",
		removed, p.Versions, n, keptText, p.KeptBundles, p.Bundles)
}
