package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// BasesDir is where `modferry inventory` keeps, for each inventory it
// wrote, what the inventory listed, so that an import of a delta bundle
// made against it (Manifest.BaseInventory) can tell whether the store
// still holds what the delta left out: a version deleted or pruned since
// the inventory was taken is in no bundle any more, and a build that
// needs it would fail long after the import.
const BasesDir = "state/inventories"

// keepBases is how many of the newest inventories' records are kept.
const keepBases = 8

// base is what BasesDir holds for one inventory (zstd-compressed JSON).
type base struct {
	Digest string `json:"digest"`
	// Removals is the store's removal stamp (modules.RemovalStamp) when
	// the inventory was taken: while it is unchanged, nothing left.
	Removals string `json:"removals"`
	// Modules are the versions listed: "path@version" with its zip,
	// "path@version/go.mod" for a go.mod-only one.
	Modules []string `json:"modules"`
}

// SaveBase records in st what inv, whose bytes have the SHA-256 digest,
// lists, keeping the records of the newest inventories only.
func SaveBase(ctx context.Context, st store.Store, digest string, inv *Inventory) error {
	b := base{Digest: digest, Removals: inv.removals, Modules: make([]string, 0, len(inv.Modules))}
	for _, m := range inv.Modules {
		s := m.Path + "@" + m.Version
		if m.ZipHash == "" {
			s += "/go.mod"
		}
		b.Modules = append(b.Modules, s)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	data := enc.EncodeAll(raw, nil)
	enc.Close()
	name := fmt.Sprintf("%s/%020d-%s.json.zst", BasesDir, inv.Created.Unix(), digest)
	if err := st.Put(ctx, name, bytes.NewReader(data)); err != nil {
		return err
	}
	names, err := st.List(ctx, BasesDir)
	if err != nil {
		return err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasSuffix(n, ".json.zst") })
	slices.Sort(names) // oldest first: the names start with the time
	for len(names) > keepBases {
		if err := st.Delete(ctx, BasesDir+"/"+names[0]); err != nil {
			return err
		}
		names = names[1:]
	}
	return nil
}

// CheckBase reports the versions the inventory with the given digest
// listed that the store no longer holds whole, leaving out those in
// carried (what the delta bundle brought itself). known is false when the
// store keeps no record of that inventory (it was written for another
// store, or long ago): nothing can be checked then.
func CheckBase(ctx context.Context, st store.Store, digest string, carried map[module.Version]bool) (missing []module.Version, known bool, err error) {
	names, err := st.List(ctx, BasesDir)
	if err != nil {
		return nil, false, err
	}
	i := slices.IndexFunc(names, func(n string) bool { return strings.HasSuffix(n, "-"+digest+".json.zst") })
	if i < 0 {
		return nil, false, nil
	}
	data, err := store.ReadAll(ctx, st, BasesDir+"/"+names[i])
	if err != nil {
		return nil, false, err
	}
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(256<<20))
	raw, err := dec.DecodeAll(data, nil)
	dec.Close()
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", names[i], err)
	}
	var b base
	if err := json.Unmarshal(raw, &b); err != nil || b.Digest != digest {
		return nil, false, fmt.Errorf("%s is not a valid inventory record", names[i])
	}
	removals, err := store.ReadAll(ctx, st, modules.RemovalStamp)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, true, err
	}
	if string(removals) == b.Removals {
		return nil, true, nil // nothing was deleted or pruned since
	}
	entries, err := (&modules.Repo{Store: st}).All(ctx)
	if err != nil {
		return nil, true, err
	}
	held := make(map[module.Version]bool, len(entries)) // true: with its zip
	for _, e := range entries {
		held[e.Version] = e.HasZip && e.HasInfo
	}
	for _, s := range b.Modules {
		s, modOnly := strings.CutSuffix(s, "/go.mod")
		p, ver, _ := strings.Cut(s, "@")
		v := module.Version{Path: p, Version: ver}
		if carried[v] {
			continue
		}
		if zip, ok := held[v]; !ok || !modOnly && !zip {
			missing = append(missing, v)
		}
	}
	return missing, true, nil
}
