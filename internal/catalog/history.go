package catalog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/bundle"
	sha "github.com/modferry/modferry/internal/digest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/store"
)

// Bundles returns the import history, newest import first: one Bundle
// (without its Manifest) for each import record in the store. It lists
// the records each time, so an import made by another process shows at
// once; a record is read once and its summary kept (records never
// change). Signers come from the audit log.
func (c *Catalog) Bundles(ctx context.Context) ([]api.Bundle, error) {
	names, err := c.st.List(ctx, HistoryDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := c.refreshPublished(ctx); err != nil {
		return nil, err
	}
	out := []api.Bundle{}
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		c.mu.RLock()
		b := c.history[n]
		c.mu.RUnlock()
		if b == nil {
			data, err := store.ReadAll(ctx, c.st, HistoryDir+"/"+n)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if b, err = c.bundleOf(ctx, strings.TrimSuffix(n, ".json"), data); err != nil {
				continue // not a record this version understands
			}
			b.Manifest = nil
			c.mu.Lock()
			c.history[n] = b
			c.mu.Unlock()
		}
		cp := *b
		cp.Signers = c.signersOf(cp.Digest)
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b api.Bundle) int {
		return cmp.Or(b.Imported.Compare(a.Imported), strings.Compare(a.Digest, b.Digest))
	})
	return out, nil
}

// Bundle returns the imported bundle with the given digest (hex SHA-256),
// with its manifest; a bundle the history does not record is a
// *NotFoundError.
func (c *Catalog) Bundle(ctx context.Context, digest string) (*api.Bundle, error) {
	if !sha.IsHex(digest) {
		return nil, noBundle(digest, "")
	}
	data, err := store.ReadAll(ctx, c.st, HistoryDir+"/"+digest+".json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noBundle(digest, "")
	}
	if err != nil {
		return nil, err
	}
	if err := c.refreshPublished(ctx); err != nil {
		return nil, err
	}
	b, err := c.bundleOf(ctx, digest, data)
	if err != nil {
		return nil, err
	}
	b.Signers = c.signersOf(digest)
	return b, nil
}

// BundleFile opens a download of an imported bundle: its manifest
// (api.DownloadManifest) or an SBOM the import kept (api.DownloadCycloneDX,
// api.DownloadSPDX). A bundle or file the store does not hold is a
// *NotFoundError.
func (c *Catalog) BundleFile(ctx context.Context, digest, name string) ([]byte, error) {
	if !sha.IsHex(digest) {
		return nil, noBundle(digest, "")
	}
	switch name {
	case api.DownloadManifest:
		b, err := c.Bundle(ctx, digest)
		if err != nil {
			return nil, err
		}
		return b.Manifest, nil
	case api.DownloadCycloneDX, api.DownloadSPDX:
		data, err := store.ReadAll(ctx, c.st, importer.SBOMName(digest, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, noBundle(digest, name)
		}
		return data, err
	}
	return nil, noBundle(digest, name)
}

// bundleOf summarizes an import record.
func (c *Catalog) bundleOf(ctx context.Context, digest string, data []byte) (*api.Bundle, error) {
	var rec importer.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("import record %s: %w", digest, err)
	}
	var m bundle.Manifest
	if err := json.Unmarshal(rec.Manifest, &m); err != nil {
		return nil, fmt.Errorf("import record %s: its manifest: %w", digest, err)
	}
	b := &api.Bundle{
		Digest: cmp.Or(rec.Digest, digest), File: rec.File, Imported: rec.Imported, Actor: rec.Actor,
		Created: m.Created, ToolVersion: m.ToolVersion, Modules: len(m.Modules), Files: len(m.Files),
		BaseInventory: m.BaseInventory, Projects: []api.BundleProject{}, Manifest: rec.Manifest,
	}
	for _, mod := range m.Modules {
		if mod.ZipHash == "" {
			b.GoModOnly++
		}
	}
	for _, f := range m.Files {
		b.Bytes += f.Size
	}
	for _, p := range m.Projects {
		b.Projects = append(b.Projects, api.BundleProject{Path: p.Path, VCSRevision: p.VCSRevision})
	}
	if m.SumDB != nil {
		b.SumDB = &api.BundleSumDB{Name: m.SumDB.Name, TreeHead: m.SumDB.TreeHead}
	}
	base := api.BundlePath(b.Digest) + "/"
	b.Downloads = map[string]string{api.DownloadManifest: base + api.DownloadManifest}
	for _, name := range []string{api.DownloadCycloneDX, api.DownloadSPDX} {
		if ok, err := store.Exists(ctx, c.st, importer.SBOMName(b.Digest, name)); err != nil {
			return nil, err
		} else if ok {
			b.Downloads[name] = base + name
		}
	}
	return b, nil
}

// noBundle is the error for a bundle, or one of its downloads, that the
// store does not hold; it matches fs.ErrNotExist.
func noBundle(digest, name string) error {
	if name != "" {
		return fmt.Errorf("bundle %q has no download %q: %w", digest, name, fs.ErrNotExist)
	}
	return fmt.Errorf("%q: no such bundle in the import history: %w", digest, fs.ErrNotExist)
}

// signersOf returns the signers the audit log records for an import.
func (c *Catalog) signersOf(digest string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if ks := c.signers[digest]; ks != nil {
		return slices.Clone(ks)
	}
	return []string{}
}
