package importer

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/vulndb"
)

// VulnDBResult reports what an import did with a bundled vulnerability
// database.
type VulnDBResult struct {
	// Modified is the bundled database's modified time.
	Modified time.Time `json:"modified"`
	// Installed reports whether it replaced the store's database; false
	// when the store's is as new or newer (it never moves backwards).
	Installed bool `json:"installed"`
}

// importVulnDB installs the bundle's vulnerability database if it is
// newer than the store's. The bundle reader has checked it already.
func importVulnDB(ctx context.Context, st store.Store, m *bundle.Manifest, stage bundle.Stage) (*VulnDBResult, error) {
	if m.VulnDB == nil {
		return nil, nil
	}
	var names []string
	for _, f := range m.Files {
		if name, ok := strings.CutPrefix(f.Path, bundle.VulnDBPrefix); ok {
			names = append(names, name)
		}
	}
	db, err := vulndb.Check(names, func(name string) ([]byte, error) {
		p, err := stage.LocalPath(bundle.VulnDBPrefix + name)
		if err != nil {
			return nil, err
		}
		return os.ReadFile(p)
	})
	if err != nil {
		return nil, err
	}
	installed, err := vulndb.Install(ctx, st, db)
	if err != nil {
		return nil, err
	}
	return &VulnDBResult{Modified: db.Modified, Installed: installed}, nil
}
