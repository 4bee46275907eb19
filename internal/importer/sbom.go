package importer

import (
	"context"
	"os"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/store"
)

// SBOMName returns the store name under which an import keeps an SBOM
// member of the bundle with the given digest, beside its import record:
// "bundles/<digest>/sbom.cdx.json" or "bundles/<digest>/sbom.spdx.json".
func SBOMName(digest, member string) string {
	return "bundles/" + digest + "/" + member
}

// keepSBOMs stores the bundle's SBOM members (each written atomically),
// so that the isolated side can scan what it holds. They are written
// before the import record: a crash in between leaves the bundle
// unrecorded, and importing it again writes them again.
func keepSBOMs(ctx context.Context, st store.Store, digest string, m *bundle.Manifest, stage *bundle.DirStage) error {
	for _, f := range m.Files {
		if f.Path != bundle.SBOMCycloneDX && f.Path != bundle.SBOMSPDX {
			continue
		}
		local, err := stage.LocalPath(f.Path)
		if err != nil {
			return err
		}
		r, err := os.Open(local)
		if err != nil {
			return err
		}
		err = st.Put(ctx, SBOMName(digest, f.Path), r)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
