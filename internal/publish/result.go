package publish

import (
	"time"

	"github.com/modferry/modferry/internal/api"
)

// ResultOf returns the api.Result describing m.
func ResultOf(m *Module) api.Result {
	return api.Result{Path: m.Version.Path, Version: m.Version.Version, Time: m.Time.UTC().Truncate(time.Second), Hash: m.Hash, ModHash: m.ModHash}
}
