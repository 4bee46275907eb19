package catalog

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/modferry/modferry/internal/checksumdb"
)

// Stats are counts over the whole store.
type Stats struct {
	Modules   int   `json:"modules"`   // module paths
	Versions  int   `json:"versions"`  // complete versions
	GoModOnly int   `json:"goModOnly"` // versions with only a go.mod
	ZipBytes  int64 `json:"zipBytes"`  // sum of the zips' sizes
	ModBytes  int64 `json:"modBytes"`  // sum of the .mod files' sizes
	Bundles   int   `json:"bundles"`   // imports recorded
	// NewestImport is the most recent import, nil before the first.
	NewestImport *Origin `json:"newestImport,omitempty"`
	// ChecksumDBs are the heads the store serves, by database name.
	ChecksumDBs []ChecksumDBHead `json:"checksumDBs"`
	// Refreshed is when the last full pass over the store began.
	Refreshed time.Time `json:"refreshed,omitzero"`
	Partial   bool      `json:"partial,omitempty"`
}

// ChecksumDBHead is the signed tree head a checksum database serves.
type ChecksumDBHead struct {
	Name string `json:"name"`
	Size int64  `json:"size"` // tree size (records)
	Hash string `json:"hash"` // root hash, base64
	Note string `json:"note"` // the signed note, as served at /sumdb/NAME/latest
}

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
