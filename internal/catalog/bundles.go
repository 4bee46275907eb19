package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/store"
)

// HistoryDir is the store directory of the import history (package
// importer writes HistoryDir/<digest>.json).
const HistoryDir = "bundles"

// bundleInfo is one import record.
type bundleInfo struct {
	digest   string
	imported time.Time
	file     string
}

// manifestModules is the part of a bundle manifest the catalog reads.
type manifestModules struct {
	Modules []struct {
		Path    string `json:"path"`
		Version string `json:"version"`
	} `json:"modules"`
}

// refreshBundles reads the import records not read yet and notes, for
// every module version they list, the earliest-imported bundle.
func (c *Catalog) refreshBundles(ctx context.Context) error {
	return c.readingBundles.do(ctx, c.readBundles)
}

// readBundles is a pass of refreshBundles (never two at once).
func (c *Catalog) readBundles(ctx context.Context) error {
	names, err := c.st.List(ctx, HistoryDir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		c.mu.RLock()
		known := c.known[n]
		c.mu.RUnlock()
		if known {
			continue
		}
		data, err := store.ReadAll(ctx, c.st, HistoryDir+"/"+n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		var rec importer.Record
		var man manifestModules
		if json.Unmarshal(data, &rec) != nil || json.Unmarshal(rec.Manifest, &man) != nil {
			// Not a record this version understands; nothing to learn.
			c.mu.Lock()
			c.known[n] = true
			c.mu.Unlock()
			continue
		}
		if rec.Digest == "" {
			rec.Digest = strings.TrimSuffix(n, ".json")
		}
		c.mu.Lock()
		c.known[n] = true
		idx := int32(len(c.bundles))
		c.bundles = append(c.bundles, bundleInfo{digest: rec.Digest, imported: rec.Imported, file: rec.File})
		for _, m := range man.Modules {
			k := versionKey{intern(m.Path), intern(m.Version)}
			if have, ok := c.origins[k]; ok && !rec.Imported.Before(c.bundles[have].imported) {
				continue
			}
			c.origins[k] = idx
		}
		c.mu.Unlock()
	}
	return nil
}
