// Package inventory describes what a module store holds, small enough to
// carry back to the connected side, where `modferry export --since` leaves
// out everything listed.
//
// An inventory is JSON: format version, creation time, every module
// version with the h1: hashes of its zip (empty when the store holds only
// its go.mod) and of its go.mod, the SHA-256 digests of the bundles
// imported, and the checksum-database heads the store has served. Its
// Digest is the SHA-256 of its exact bytes, which a delta bundle records as
// its base.
package inventory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// FormatVersion is the inventory format this package reads and writes.
const FormatVersion = 1

// Inventory is what a store holds.
type Inventory struct {
	FormatVersion int       `json:"formatVersion"`
	Created       time.Time `json:"created"`
	// Modules lists every module version, sorted.
	Modules []bundle.Module `json:"modules"`
	// Bundles lists the SHA-256 digests of the bundles imported.
	Bundles []string `json:"bundles"`
	// SumDBHeads are the signed tree heads the store has served, by
	// checksum database name.
	SumDBHeads map[string][]string `json:"sumdbHeads,omitempty"`
	// Unproven lists ("path@version", sorted) the module versions held
	// without a checksum-database lookup in the store (from `import
	// --cache-dir`, or not covered by the exporter's checksum database):
	// export --since carries them again, with their proofs, where its
	// checksum database covers them.
	Unproven []string `json:"unproven,omitempty"`

	index    map[module.Version]bundle.Module
	unproven map[module.Version]bool
	// removals is the store's removal stamp read before Build walked
	// it (see SaveBase).
	removals string
}

// Build reads the store and returns its inventory. Bundle digests come
// from the import history under "bundles/".
func Build(ctx context.Context, st store.Store) (*Inventory, error) {
	// Before the walk: a version removed while it runs may still be
	// listed, and must count as removed since (SaveBase, CheckBase).
	removals, err := store.ReadAll(ctx, st, modules.RemovalStamp)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	repo := &modules.Repo{Store: st}
	entries, err := repo.All(ctx)
	if err != nil {
		return nil, err
	}
	inv := &Inventory{FormatVersion: FormatVersion, Created: time.Now().UTC().Truncate(time.Second), removals: string(removals)}
	// One read of a go.mod per version (and, rarely, a zip to hash),
	// several at once: a loop would wait on each in turn.
	inv.Modules = make([]bundle.Module, len(entries))
	err = store.Each(ctx, len(entries), func(ctx context.Context, i int) error {
		e := entries[i]
		name, _ := modfiles.Name(e.Version, modfiles.Mod)
		mod, err := store.ReadAll(ctx, st, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the listing: not held
		}
		if err != nil {
			return err
		}
		m := bundle.Module{Path: e.Path, Version: e.Version.Version, ModHash: modfiles.HashMod(mod)}
		// A zip without its .info (being written, or its writer was
		// interrupted) is not held whole: listed as go.mod-only, so that
		// export --since carries the version whole again.
		if e.HasZip && e.HasInfo {
			m.ZipHash = e.ZipHash
			if m.ZipHash == "" {
				// No .ziphash beside the zip: hash the zip itself, on
				// any store (an empty ZipHash would say "go.mod only",
				// and export --since would carry the zip again).
				zn, _ := modfiles.Name(e.Version, modfiles.Zip)
				file, cleanup, err := store.LocalFile(ctx, st, zn, "")
				if errors.Is(err, fs.ErrNotExist) {
					return nil // deleted since the listing: not held
				}
				if err != nil {
					return err
				}
				defer cleanup()
				m.ZipHash, err = modfiles.HashZip(file)
				if errors.Is(err, fs.ErrNotExist) {
					return nil // deleted since the listing (a disk store's file)
				}
				if err != nil {
					return fmt.Errorf("%s: hashing its zip, which has no .ziphash beside it: %w (the store's copy may be damaged: 'modferry delete' it and import it again)", e.Version, err)
				}
			}
		}
		inv.Modules[i] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	inv.Modules = slices.DeleteFunc(inv.Modules, func(m bundle.Module) bool { return m.Path == "" })
	names, err := st.List(ctx, "bundles")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if d, ok := strings.CutSuffix(n, ".json"); ok {
			inv.Bundles = append(inv.Bundles, d)
		}
	}
	dbs, err := checksumdb.OpenStored(ctx, st)
	if err != nil {
		return nil, err
	}
	if inv.Unproven, err = unproven(ctx, st, dbs, inv.Modules); err != nil {
		return nil, err
	}
	for _, db := range dbs {
		heads, err := db.Heads(ctx)
		if err != nil {
			return nil, err
		}
		for _, h := range heads {
			if inv.SumDBHeads == nil {
				inv.SumDBHeads = map[string][]string{}
			}
			inv.SumDBHeads[db.Name()] = append(inv.SumDBHeads[db.Name()], string(h.Note))
		}
	}
	inv.Modules = nonNil(inv.Modules)
	inv.Bundles = nonNil(inv.Bundles)
	return inv, nil
}

// unproven returns the modules that no checksum database in the store
// has a lookup of, as "path@version", sorted: one listing per directory
// of lookups (a module path's parent), several at once.
func unproven(ctx context.Context, st store.Store, dbs []*checksumdb.DB, mods []bundle.Module) ([]string, error) {
	have := map[string]bool{} // lookup path under a database
	var dirs []string
	seen := map[string]bool{}
	for _, db := range dbs {
		for _, m := range mods {
			lp, err := modfiles.LookupPath(m.ModuleVersion())
			if err != nil {
				continue
			}
			d := "sumdb/" + db.Name() + "/" + path.Dir(lp)
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	listed := make([][]string, len(dirs))
	err := store.Each(ctx, len(dirs), func(ctx context.Context, i int) (err error) {
		listed[i], err = st.List(ctx, dirs[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, d := range dirs {
		_, rel, _ := strings.Cut(strings.TrimPrefix(d, "sumdb/"), "/") // lookup/...
		for _, n := range listed[i] {
			have[rel+"/"+n] = true
		}
	}
	var out []string
	for _, m := range mods {
		lp, err := modfiles.LookupPath(m.ModuleVersion())
		if err == nil && !have[lp] {
			out = append(out, m.Path+"@"+m.Version)
		}
	}
	return out, nil
}

// IsUnproven reports whether the store held v without a checksum-database
// lookup (see Unproven).
func (inv *Inventory) IsUnproven(v module.Version) bool {
	if inv.unproven == nil {
		inv.unproven = make(map[module.Version]bool, len(inv.Unproven))
		for _, s := range inv.Unproven {
			p, ver, _ := strings.Cut(s, "@")
			inv.unproven[module.Version{Path: p, Version: ver}] = true
		}
	}
	return inv.unproven[v]
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Marshal encodes the inventory: WriteTo's bytes.
func (inv *Inventory) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := inv.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTo writes the inventory as indented JSON (one space per level),
// one module at a time: what a store of a million module versions lists
// is never held encoded whole. The bytes are those of encoding/json's
// Encoder with SetIndent("", " ") and SetEscapeHTML(false) on the whole
// inventory, as earlier versions wrote, so digests stay comparable.
func (inv *Inventory) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	if len(inv.Modules) == 0 {
		err := newEncoder(cw, "").Encode(inv)
		return cw.n, err
	}
	// Everything but the modules, with an empty list to splice them into.
	rest := *inv
	rest.Modules = []bundle.Module{}
	var head bytes.Buffer
	if err := newEncoder(&head, "").Encode(&rest); err != nil {
		return 0, err
	}
	const empty = "\n \"modules\": []"
	i := bytes.Index(head.Bytes(), []byte(empty))
	if i < 0 {
		return 0, fmt.Errorf("inventory: no modules list in %.40q", head.Bytes())
	}
	i += len(empty) - 1 // at the list's "]"
	cw.Write(head.Bytes()[:i])
	// Each module as the Encoder would write it two levels down.
	var one bytes.Buffer
	enc := newEncoder(&one, "  ")
	for k := range inv.Modules {
		one.Reset()
		if err := enc.Encode(&inv.Modules[k]); err != nil {
			return cw.n, err
		}
		if k > 0 {
			cw.Write([]byte(","))
		}
		cw.Write([]byte("\n  "))
		cw.Write(bytes.TrimSuffix(one.Bytes(), []byte("\n")))
		if cw.err != nil {
			return cw.n, cw.err
		}
	}
	cw.Write([]byte("\n "))
	cw.Write(head.Bytes()[i:])
	return cw.n, cw.err
}

func newEncoder(w io.Writer, prefix string) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent(prefix, " ")
	enc.SetEscapeHTML(false)
	return enc
}

// countWriter counts what it writes and keeps the first error, after
// which it writes nothing.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// Digest returns the hex SHA-256 of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Parse decodes and checks an inventory.
func Parse(data []byte) (*Inventory, error) {
	var inv Inventory
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inv); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("inventory: %d bytes of other data after the JSON object", len(rest))
	}
	if inv.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("inventory: format version %d, this modferry reads %d", inv.FormatVersion, FormatVersion)
	}
	inv.index = make(map[module.Version]bundle.Module, len(inv.Modules))
	for _, m := range inv.Modules {
		if err := module.Check(m.Path, m.Version); err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		if _, dup := inv.index[m.ModuleVersion()]; dup {
			// Two entries could hold different hashes, and export
			// --since would trust whichever came last.
			return nil, fmt.Errorf("inventory: %s@%s is listed twice; write the inventory again with 'modferry inventory'", m.Path, m.Version)
		}
		inv.index[m.ModuleVersion()] = m
	}
	return &inv, nil
}

// Load reads and parses an inventory file, returning it with its digest.
func Load(file string) (*Inventory, string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	inv, err := Parse(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	return inv, Digest(data), nil
}

// Lookup returns what the inventory records of v.
func (inv *Inventory) Lookup(v module.Version) (bundle.Module, bool) {
	if inv.index == nil {
		inv.index = make(map[module.Version]bundle.Module, len(inv.Modules))
		for _, m := range inv.Modules {
			inv.index[m.ModuleVersion()] = m
		}
	}
	m, ok := inv.index[v]
	return m, ok
}

// Sort puts modules in a stable order.
func (inv *Inventory) Sort() {
	slices.SortFunc(inv.Modules, func(a, b bundle.Module) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
}
