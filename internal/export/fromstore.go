package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/resolve"
	"github.com/modferry/modferry/internal/store"
)

// exportStore makes the bundle of what opts.FromStore holds: the CI
// snapshot of a fill-through proxy. Every stored module version (with
// its .info, .mod and, if held, .zip) is copied to a scratch directory
// and bundled as a resolved one is, minus what opts.Since lists. The
// checksum-database proof is captured, as for a resolved export, from
// the proofs the store keeps (its "sumdb/<name>/" area, which a
// fill-through proxy fills as it verifies each module): a version whose
// lookup the store lacks (a private module, or one imported without a
// proof) is listed as not covered.
func exportStore(ctx context.Context, opts Options, start time.Time) (*Summary, error) {
	workDir, err := os.MkdirTemp(ScratchDir(), "modferry-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(workDir)
	files, err := copyStore(ctx, opts.FromStore, workDir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("export: the store holds no module versions")
	}
	res := &resolve.Result{Files: files}
	order := byVersion(res.Files)
	if err := hashVersions(ctx, order, opts.Progress); err != nil {
		return nil, err
	}
	sum := &Summary{Output: opts.Output, Signed: opts.Sign != nil, BaseInventory: opts.SinceDigest,
		Toolchains: []string{}, ResolvedQuery: []string{}}
	m := newManifest(opts, res, sum)
	sources := map[string]string{}
	if err := addModules(m, order, opts.Since, nil, sum, sources); err != nil {
		return nil, err
	}
	made, err := newSpool(workDir, sources)
	if err != nil {
		return nil, err
	}
	if err := captureStoredSumDB(ctx, opts, m, made); err != nil {
		return nil, err
	}
	if err := addSBOMs(m, opts, res, sources, made); err != nil {
		return nil, err
	}
	sum.Modules = len(m.Modules)
	sum.Files = len(m.Files)
	if sum.Bytes, err = writeBundle(ctx, opts, m, sources); err != nil {
		return nil, err
	}
	sum.Duration = time.Since(start)
	sum.Seconds = sum.Duration.Seconds()
	return sum, nil
}

// copyStore copies the .info, .mod and .zip of every module version st
// holds into dir, in the GOPROXY layout, and returns them as resolved
// files, sorted by module path and version.
func copyStore(ctx context.Context, st store.Store, dir string) ([]resolve.File, error) {
	entries, err := (&modules.Repo{Store: st}).All(ctx)
	if err != nil {
		return nil, err
	}
	// Several versions at once: from an object store each file is a
	// round trip, and a large store holds many.
	per := make([][]resolve.File, len(entries))
	err = store.Each(ctx, len(entries), func(ctx context.Context, i int) error {
		e := entries[i]
		if !e.HasInfo {
			// A zip without .info is a version being written (a
			// publish, a fetch) or whose writer was interrupted; a
			// publish writes its go.mod first. Neither goes: a publish
			// rolled back may come again with another go.mod.
			if e.HasZip {
				return nil
			}
			pending, err := modfiles.PendingName(e.Version)
			if err != nil {
				return err
			}
			if busy, err := store.Exists(ctx, st, pending); err != nil || busy {
				return err
			}
		}
		kinds := []modfiles.Kind{modfiles.Info, modfiles.Mod}
		if e.HasZip {
			kinds = append(kinds, modfiles.Zip)
		}
		for _, k := range kinds {
			name, err := modfiles.Name(e.Version, k)
			if err != nil {
				return err
			}
			local := filepath.Join(dir, filepath.FromSlash(name))
			n, err := copyObject(ctx, st, name, local)
			if errors.Is(err, os.ErrNotExist) && k == modfiles.Info {
				continue // a go.mod-only version may have no .info
			}
			if err != nil {
				return err
			}
			f := resolve.File{Module: e.Version, Kind: k, Path: local, Size: n}
			if k == modfiles.Zip {
				f.ZipHash = e.ZipHash
			}
			per[i] = append(per[i], f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var files []resolve.File
	for _, fs := range per {
		files = append(files, fs...)
	}
	return files, nil
}

// copyObject copies the store object name to the file local.
func copyObject(ctx context.Context, st store.Store, name, local string) (int64, error) {
	r, err := st.Open(ctx, name)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return 0, err
	}
	w, err := os.Create(local)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, r)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// captureStoredSumDB adds to the manifest the proof of the bundled
// versions whose lookups the store's checksum database holds, captured
// (and so checked) by checksumdb.Capture over the store's own files.
func captureStoredSumDB(ctx context.Context, opts Options, m *bundle.Manifest, made *spool) error {
	dbs, err := checksumdb.OpenStored(ctx, opts.FromStore)
	if err != nil {
		return err
	}
	var db *checksumdb.DB
	var hashes []checksumdb.ModuleHashes
	var notCovered []string
	for _, mod := range m.Modules {
		v := mod.ModuleVersion()
		var holder *checksumdb.DB
		for _, d := range dbs {
			if _, err := d.Lookup(ctx, v); err == nil {
				holder = d
				break
			}
		}
		switch {
		case holder == nil:
			notCovered = append(notCovered, v.String())
			continue
		case db == nil:
			db = holder
		case db != holder:
			return fmt.Errorf("export: the store holds proofs of two checksum databases (%s, %s); a bundle carries one", db.Name(), holder.Name())
		}
		hashes = append(hashes, sumdbHashes(mod))
	}
	if db == nil {
		return nil
	}
	var old [][]byte
	if opts.Since != nil {
		for _, h := range opts.Since.SumDBHeads[db.Name()] {
			old = append(old, []byte(h))
		}
	}
	proof, err := checksumdb.Capture(ctx, checksumdb.CaptureOptions{
		VerifierKey: db.Key(), Fetch: storedFetch(db), Modules: hashes, OldHeads: old,
	})
	if err != nil {
		if errors.Is(err, checksumdb.ErrSecurity) {
			return &SumDBDisagreesError{SumDB: db.Name(), URL: "the store's proofs", Err: err}
		}
		return fmt.Errorf("checksum database %s (the store's proofs): %w", db.Name(), err)
	}
	return addProof(m, &bundle.SumDBInfo{Name: db.Name(), Key: db.Key(), NotCovered: notCovered}, proof, made)
}

// storedFetch reads the database files a capture asks for from the
// store's copy of the database.
func storedFetch(db *checksumdb.DB) func(context.Context, string) ([]byte, error) {
	return func(ctx context.Context, p string) ([]byte, error) {
		switch {
		case p == "latest":
			h, err := db.Head(ctx)
			if err != nil {
				return nil, err
			}
			return h.Note, nil
		case strings.HasPrefix(p, "lookup/"):
			v, err := modfiles.ParseLookupPath(p)
			if err != nil {
				return nil, err
			}
			return db.Lookup(ctx, v)
		case strings.HasPrefix(p, "tile/"):
			t, err := tlog.ParseTilePath(p)
			if err != nil {
				return nil, err
			}
			return db.Tile(ctx, t)
		}
		return nil, fmt.Errorf("%s: %w", p, os.ErrNotExist)
	}
}
