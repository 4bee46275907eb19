// Package prune decides which module versions of a store nobody needs any
// more, and removes them the way a delete does.
//
// # What keeps a version
//
// A version (any version with a .mod: complete, or go.mod-only) is kept
// when any of these holds:
//
//   - a publish made it (the audit log records a publish of it that
//     succeeded): the store holds the only copy of a private module;
//   - a keep list names it (Options.Keep: a project's go.sum or a
//     `modferry inventory` file, the versions a project still builds
//     with);
//   - it is a Go toolchain (golang.org/toolchain), unless
//     Options.Toolchains: a go.mod's go and toolchain lines ask for
//     toolchains by name, no go.sum pins them, and clients keep them in
//     their module caches for a long time, so neither bundles nor
//     download times tell whether one is still needed;
//   - a kept bundle lists it. The import history (bundles/<digest>.json)
//     holds each imported bundle's manifest. Without Options.UnusedSince
//     every bundle is kept; with Options.KeepBundles N only the N most
//     recently imported are;
//   - without Options.UnusedSince: no bundle of the import history
//     lists it. Such a version came from `import --cache-dir` or a
//     fill-through proxy (serve --upstream), which keep no manifest, so
//     no bundle can ever keep it: only the download record can tell that
//     it is unused (a store migrated from a module cache is not emptied
//     by a plain prune);
//   - with Options.UnusedSince D: it was downloaded from a server on the
//     store (package downloads), or arrived in the store (bundle import,
//     publish, or the time its go.mod was written), less than D ago.
//     Bundles then keep their versions only through KeepBundles
//     (default none): the download record decides.
//
// Versions that are being published (package publish's pending marker)
// or whose .info is not written yet (an import or a fill-through fetch in
// progress) are left alone, whatever the rules say.
//
// # How a version is removed
//
// [Remove] calls [modules.Repo.Delete], as `modferry delete` does: the
// deletion record (.gone) is written first, then the .info (which unlists
// the version), .zip, .ziphash and .mod are deleted, then the list file is
// rewritten. A crash at any point leaves a version that is either whole
// or answers 410 Gone with the reason; running prune again finishes the
// job. The record is marked Pruned: an import of a later bundle that
// carries the version again brings it back (package importer), and so
// does a fill-through proxy asked for it (package fillthrough), while a
// deliberately deleted version never comes back. A server on the store
// sees the removal within a second (its cache
// of small files rechecks the store), and answers 410 Gone with the
// reason from then on. Checksum-database data (sumdb/) is never touched:
// the tree heads and tiles prove other versions too.
//
// [Apply] holds the store's import lock while it plans and removes, so
// that no import commits a bundle between the decision and the removal.
package prune

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/downloads"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// ToolchainModule is the module path of Go toolchains.
const ToolchainModule = "golang.org/toolchain"

// Options say what prune keeps. The zero value removes the versions that
// no bundle, publish or toolchain rule keeps.
type Options struct {
	// UnusedSince, if positive, removes versions not downloaded (and not
	// arrived) for that long, unless another rule keeps them.
	UnusedSince time.Duration
	// KeepBundles is how many of the most recently imported bundles keep
	// their versions: 0 means all of them without UnusedSince and none
	// with it, a negative value none (the CLI's --keep-bundles 0).
	KeepBundles int
	// Keep are the versions keep lists name (see ParseKeepList).
	Keep []module.Version
	// Toolchains lets toolchain versions be removed by the other rules.
	Toolchains bool
	// Now is the time UnusedSince counts back from; zero means time.Now().
	Now time.Time
}

// Reasons a version is kept, as Plan.Kept counts them (the keys of
// `prune --json`'s "kept").
const (
	KeptPublished = "published"
	KeptKeepList  = "keepList"
	KeptToolchain = "toolchain"
	KeptBundle    = "keptBundle"
	KeptUnbundled = "noBundle"
	KeptRecent    = "usedRecently"
	KeptBusy      = "beingWritten"
)

// Removal is one version to remove.
type Removal struct {
	module.Version
	// Reason is why, as the deletion record and the 410 answer say it.
	Reason string
	// LastUsed is its last recorded download, or zero.
	LastUsed time.Time
	// Arrived is when it came into the store, or zero if unknown.
	Arrived time.Time
}

// Plan is what prune would do.
type Plan struct {
	// Remove lists the versions to remove, sorted.
	Remove []Removal
	// Kept counts the versions kept, by the first rule that keeps each.
	Kept map[string]int
	// Versions is how many versions the store holds.
	Versions int
	// Bundles and KeptBundles count the imported bundles and those kept.
	Bundles, KeptBundles int
	// Unfinished are deleted versions that still have files: a delete or
	// a removal that stopped part way (a crash, a lost lease). Apply
	// finishes them first.
	Unfinished []module.Version
}

// Facts are what the store says about its versions: the input of Decide.
type Facts struct {
	// Versions are the store's versions (with a .mod, not deleted).
	Versions []module.Version
	// Unfinished are the deleted versions that still have files.
	Unfinished []module.Version
	// Bundles are the imported bundles, most recent import first.
	Bundles []Bundle
	// Published are the versions published.
	Published map[module.Version]time.Time
	// Downloads are the last recorded downloads.
	Downloads map[module.Version]time.Time
	// Written is when each version's go.mod was written, where known.
	Written map[module.Version]time.Time
	// Busy are versions being written (publish pending, or no .info yet).
	Busy map[module.Version]bool
}

// Bundle is one entry of the import history.
type Bundle struct {
	Digest   string
	Imported time.Time
	Modules  []module.Version
}

// Decide applies the rules of the package doc to facts.
func Decide(f Facts, o Options) *Plan {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	keepBundles := o.KeepBundles
	switch {
	case keepBundles < 0:
		keepBundles = 0
	case keepBundles == 0 && o.UnusedSince <= 0:
		keepBundles = len(f.Bundles)
	}
	keepBundles = min(keepBundles, len(f.Bundles))
	inKept := map[module.Version]bool{}
	for _, b := range f.Bundles[:keepBundles] {
		for _, v := range b.Modules {
			inKept[v] = true
		}
	}
	// The earliest import that brought each version.
	arrived := map[module.Version]time.Time{}
	for _, b := range f.Bundles {
		for _, v := range b.Modules {
			if t, ok := arrived[v]; !ok || b.Imported.Before(t) {
				arrived[v] = b.Imported
			}
		}
	}
	keep := map[module.Version]bool{}
	for _, v := range o.Keep {
		keep[v] = true
	}
	cutoff := now.Add(-o.UnusedSince)
	p := &Plan{Kept: map[string]int{}, Versions: len(f.Versions), Bundles: len(f.Bundles), KeptBundles: keepBundles, Unfinished: f.Unfinished}
	for _, v := range f.Versions {
		last := f.Downloads[v]
		came := arrived[v]
		if t, ok := f.Published[v]; ok && (came.IsZero() || t.Before(came)) {
			came = t
		}
		if came.IsZero() {
			came = f.Written[v]
		}
		why := ""
		switch {
		case f.Busy[v]:
			why = KeptBusy
		case hasKey(f.Published, v):
			why = KeptPublished
		case keep[v]:
			why = KeptKeepList
		case v.Path == ToolchainModule && !o.Toolchains:
			why = KeptToolchain
		case inKept[v]:
			why = KeptBundle
		case o.UnusedSince <= 0 && !hasKey(arrived, v):
			why = KeptUnbundled
		case o.UnusedSince > 0 && (!last.Before(cutoff) || came.IsZero() || !came.Before(cutoff)):
			why = KeptRecent
		}
		if why != "" {
			p.Kept[why]++
			continue
		}
		r := Removal{Version: v, LastUsed: last, Arrived: came}
		if o.UnusedSince > 0 {
			r.Reason = fmt.Sprintf("pruned: not downloaded for %s", formatDuration(o.UnusedSince))
			if !last.IsZero() {
				r.Reason += fmt.Sprintf(" (last on %s)", last.UTC().Format("2006-01-02"))
			}
			r.Reason += " and no kept bundle, keep list or publish needs it"
		} else {
			r.Reason = "pruned: no kept bundle, keep list or publish needs it"
		}
		p.Remove = append(p.Remove, r)
	}
	slices.SortFunc(p.Remove, func(a, b Removal) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return semver.Compare(a.Version.Version, b.Version.Version)
	})
	return p
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// formatDuration writes whole days as "180d".
func formatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// Gather reads the facts Decide needs from the store.
func Gather(ctx context.Context, st store.Store) (Facts, error) {
	repo := &modules.Repo{Store: st}
	var f Facts
	entries, unfinished, err := repo.AllAndUnfinished(ctx)
	f.Unfinished = unfinished
	if err != nil {
		return f, err
	}
	f.Written = map[module.Version]time.Time{}
	f.Busy = map[module.Version]bool{}
	// Three reads of the store per version, several versions at once (on
	// an object store each is a round trip).
	type fact struct {
		busy    bool
		written time.Time
	}
	facts := make([]fact, len(entries))
	err = store.Each(ctx, len(entries), func(ctx context.Context, i int) error {
		v := entries[i].Version
		if pending, err := repo.Pending(ctx, v); err != nil {
			return err
		} else if pending {
			facts[i].busy = true
			return nil
		}
		info, _ := modfiles.Name(v, modfiles.Info)
		if ok, err := store.Exists(ctx, st, info); err != nil {
			return err
		} else if !ok {
			facts[i].busy = true
			return nil
		}
		mod, _ := modfiles.Name(v, modfiles.Mod)
		if fi, err := store.Stat(ctx, st, mod); err == nil {
			facts[i].written = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	for i, e := range entries {
		v := e.Version
		f.Versions = append(f.Versions, v)
		switch {
		case facts[i].busy:
			f.Busy[v] = true
		case !facts[i].written.IsZero():
			f.Written[v] = facts[i].written
		}
	}
	if f.Bundles, err = readBundles(ctx, st); err != nil {
		return f, err
	}
	if f.Published, err = readPublished(ctx, st); err != nil {
		return f, err
	}
	if f.Downloads, err = downloads.Read(ctx, st); err != nil {
		return f, err
	}
	return f, nil
}

// readBundles reads the import history, most recent import first.
func readBundles(ctx context.Context, st store.Store) ([]Bundle, error) {
	names, err := st.List(ctx, "bundles")
	if err != nil {
		return nil, err
	}
	var recs []string
	for _, n := range names {
		if strings.HasSuffix(n, ".json") {
			recs = append(recs, n)
		}
	}
	out := make([]Bundle, len(recs))
	err = store.Each(ctx, len(recs), func(ctx context.Context, i int) error {
		n := recs[i]
		b, err := store.ReadAll(ctx, st, "bundles/"+n)
		if err != nil {
			return err
		}
		var rec importer.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("bundles/%s: %w", n, err)
		}
		var m struct {
			Modules []bundle.Module `json:"modules"`
		}
		if err := json.Unmarshal(rec.Manifest, &m); err != nil {
			return fmt.Errorf("bundles/%s: manifest: %w", n, err)
		}
		bd := Bundle{Digest: rec.Digest, Imported: rec.Imported}
		for _, mod := range m.Modules {
			bd.Modules = append(bd.Modules, mod.ModuleVersion())
		}
		out[i] = bd
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Bundle) int { return b.Imported.Compare(a.Imported) })
	return out, nil
}

// readPublished returns the versions the audit log records as published,
// with the time of the publish. A version deleted since is not in the
// store any more, so it does not matter that it is listed.
func readPublished(ctx context.Context, st store.Store) (map[module.Version]time.Time, error) {
	// The whole log, never a checkpoint, and a log it cannot read whole
	// is an error: prune removes what no publish keeps.
	x, _, err := audit.NewStrictIndexReader(st).Update(ctx)
	if err != nil {
		return nil, err
	}
	if x.Unreadable > 0 {
		return nil, fmt.Errorf("the audit log has %d lines about publishes or imports that are not entries, so prune cannot tell which versions were published; run 'modferry audit verify'", x.Unreadable)
	}
	out := make(map[module.Version]time.Time, len(x.Publishes)+len(x.Unconfirmed))
	// A publish whose outcome the log lacks may have committed its
	// version (the process died, or the log could not take the outcome,
	// after the commit): it keeps the version as a publish does.
	for _, in := range x.Unconfirmed {
		path, version, _ := strings.Cut(in.Target, "@")
		out[module.Version{Path: path, Version: version}] = in.Time
	}
	for mv, p := range x.Publishes {
		path, version, _ := strings.Cut(mv, "@")
		out[module.Version{Path: path, Version: version}] = p.Time
	}
	return out, nil
}

// ParseKeepList reads the versions a keep list names: a `modferry
// inventory` file (JSON) or a go.sum (each "PATH VERSION[/go.mod] HASH"
// line names PATH@VERSION).
func ParseKeepList(data []byte) ([]module.Version, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		inv, err := inventory.Parse(data)
		if err != nil {
			return nil, err
		}
		out := make([]module.Version, 0, len(inv.Modules))
		for _, m := range inv.Modules {
			out = append(out, m.ModuleVersion())
		}
		return out, nil
	}
	var out []module.Version
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || !strings.HasPrefix(f[2], "h1:") {
			return nil, fmt.Errorf("line %d: not a go.sum line (want PATH VERSION HASH) nor an inventory", n)
		}
		v := module.Version{Path: f[0], Version: strings.TrimSuffix(f[1], "/go.mod")}
		if err := module.Check(v.Path, v.Version); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// Remove removes one version as Plan decided, recording actor and the
// removal's reason in the deletion record.
func Remove(ctx context.Context, st store.Store, r Removal, actor string) error {
	return (&modules.Repo{Store: st}).Delete(ctx, r.Version, modules.GoneRecord{Time: time.Now().UTC(), Actor: actor, Reason: r.Reason, Pruned: true})
}

// Apply plans under the store's import lock and calls remove for each
// version to remove, stopping at the first error. It returns the plan.
func Apply(ctx context.Context, st store.Store, o Options, remove func(Removal) error) (*Plan, error) {
	held, err := store.LockImport(ctx, st, 0)
	if err != nil {
		return nil, err
	}
	defer held.Unlock()
	f, err := Gather(ctx, st)
	if err != nil {
		return nil, err
	}
	p := Decide(f, o)
	// Removals that stopped part way first: their versions already
	// answer 410, only files (and the list) are left.
	repo := &modules.Repo{Store: store.Fence(st, held, "prune stopped while finishing an earlier removal: run it again")}
	for _, v := range p.Unfinished {
		// Only if the record is still there: an import or a
		// fill-through fetch may have revived the version meanwhile.
		if err := repo.FinishDelete(ctx, v); err != nil {
			return p, fmt.Errorf("finishing the removal of %s: %w", v, err)
		}
	}
	for _, r := range p.Remove {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		// A lease (S3) lost meanwhile: another may hold the lock now.
		if err := held.Check(); err != nil {
			return p, fmt.Errorf("lost the import lease before removing %s: %w", r.Version, err)
		}
		if err := remove(r); err != nil {
			return p, err
		}
	}
	return p, nil
}
