package catalog

import (
	"github.com/modferry/modferry/internal/api"

	"context"
	"errors"
	"io/fs"

	"github.com/modferry/modferry/internal/checksumdb"
)

// Stats are counts over the whole store; ChecksumDBHead is the signed
// tree head a checksum database serves.
type (
	Stats          = api.Stats
	ChecksumDBHead = api.ChecksumDBHead
)

// Stats returns counts and bytes from the index and the checksum-database
// heads from the store.
func (c *Catalog) Stats(ctx context.Context) (*Stats, error) {
	c.mu.RLock()
	s := &Stats{
		Modules: c.totals.modules, Versions: c.totals.versions, GoModOnly: c.totals.goModOnly,
		ZipBytes: c.totals.zipBytes, ModBytes: c.totals.modBytes,
		Bundles: len(c.bundles), Refreshed: c.lastRun, Partial: !c.Ready(),
		ChecksumDBs: []ChecksumDBHead{},
	}
	for _, b := range c.bundles {
		if s.NewestImport == nil || b.imported.After(s.NewestImport.Time) {
			s.NewestImport = &Origin{Kind: OriginBundle, Bundle: b.digest, Time: b.imported, File: b.file}
		}
	}
	c.mu.RUnlock()
	dbs, err := checksumdb.OpenStored(ctx, c.st)
	if err != nil {
		return nil, err
	}
	for _, db := range dbs {
		h, err := db.Head(ctx)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.ChecksumDBs = append(s.ChecksumDBs, ChecksumDBHead{Name: db.Name(), Size: h.N, Hash: h.Hash.String(), Note: string(h.Note)})
	}
	return s, nil
}
