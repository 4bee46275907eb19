package importer

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/store"
)

// SumDBHashes returns the module hashes a bundle's checksum-database
// proofs must vouch for: every module but those the exporter's
// GONOSUMDB/GOPRIVATE kept out; toolchain modules have a zip record only.
func SumDBHashes(m *bundle.Manifest) []checksumdb.ModuleHashes {
	skip := map[string]bool{}
	if m.SumDB != nil {
		for _, nc := range m.SumDB.NotCovered {
			skip[nc] = true
		}
	}
	var out []checksumdb.ModuleHashes
	for _, mod := range m.Modules {
		v := mod.ModuleVersion()
		if skip[v.String()] {
			continue
		}
		h := checksumdb.ModuleHashes{Version: v, ZipHash: mod.ZipHash, ModHash: mod.ModHash}
		if v.Path == "golang.org/toolchain" {
			h.ModHash = ""
		}
		out = append(out, h)
	}
	return out
}

// A SumDBKeyError reports a bundle that names a checksum database the go
// command knows with another key than the one the go command trusts. It
// matches checksumdb.ErrSecurity.
type SumDBKeyError struct {
	Name string // the database, such as "sum.golang.org"
	Key  string // the key the bundle's manifest names
}

func (e *SumDBKeyError) Error() string {
	return fmt.Sprintf("SECURITY: the bundle names checksum database %s with key %q, not the key the go command trusts", e.Name, e.Key)
}

// Is reports that e matches checksumdb.ErrSecurity.
func (e *SumDBKeyError) Is(target error) bool { return target == checksumdb.ErrSecurity }

// SumDBKey returns the verifier key to check a bundle's proofs with: the
// go command's own key for a database it knows (a bundle claiming another
// key for it is refused), else the key in the signed manifest.
func SumDBKey(m *bundle.Manifest) (string, error) {
	info := m.SumDB
	if known, ok := checksumdb.KnownKeys[info.Name]; ok {
		if info.Key != "" && info.Key != known {
			return "", &SumDBKeyError{Name: info.Name, Key: info.Key}
		}
		return known, nil
	}
	if info.Key == "" {
		return "", fmt.Errorf("the bundle carries proofs of checksum database %s without its key", info.Name)
	}
	if name, _, _ := strings.Cut(info.Key, "+"); name != info.Name {
		return "", fmt.Errorf("checksum database key %q is not for %s", info.Key, info.Name)
	}
	return info.Key, nil
}

// SumDBFiles reads the proof files of a bundle from a read function over
// member names.
func SumDBFiles(m *bundle.Manifest, read func(member string) ([]byte, error)) (map[string][]byte, error) {
	prefix := "sumdb/" + m.SumDB.Name + "/"
	files := map[string][]byte{}
	for _, f := range m.Files {
		if p, ok := strings.CutPrefix(f.Path, prefix); ok {
			data, err := read(f.Path)
			if err != nil {
				return nil, err
			}
			files[p] = data
		}
	}
	return files, nil
}

// VerifySumDB checks a bundle's checksum-database proofs using only the
// files it carries. It is a no-op for a bundle without proofs.
func VerifySumDB(m *bundle.Manifest, read func(member string) ([]byte, error)) (*checksumdb.Head, error) {
	if m.SumDB == nil {
		return nil, nil
	}
	key, err := SumDBKey(m)
	if err != nil {
		return nil, err
	}
	files, err := SumDBFiles(m, read)
	if err != nil {
		return nil, err
	}
	h, err := checksumdb.Verify(files, m.SumDB.Name, key, SumDBHashes(m))
	if err != nil {
		return nil, fmt.Errorf("checksum database %s: %w", m.SumDB.Name, err)
	}
	return h, nil
}

// importSumDB verifies the bundle's proofs and adds them to the store.
func importSumDB(ctx context.Context, st store.Store, m *bundle.Manifest, stage *bundle.DirStage, modcache bool) error {
	if m.SumDB == nil {
		return nil
	}
	key, err := SumDBKey(m)
	if err != nil {
		return err
	}
	files, err := SumDBFiles(m, stage.ReadFile)
	if err != nil {
		return err
	}
	if modcache {
		if _, err := checksumdb.Verify(files, m.SumDB.Name, key, SumDBHashes(m)); err != nil {
			return fmt.Errorf("checksum database %s: %w", m.SumDB.Name, err)
		}
		// The go command reads GOMODCACHE/cache/download/sumdb/NAME/...
		// before asking any server, and trusts only what it verifies.
		for p, data := range files {
			if err := st.Put(ctx, "download/sumdb/"+m.SumDB.Name+"/"+p, bytes.NewReader(data)); err != nil {
				return err
			}
		}
		return nil
	}
	db, err := checksumdb.NewDB(st, key)
	if err != nil {
		return err
	}
	if err := db.SaveKey(ctx); err != nil {
		return err
	}
	// One client pass checks the records against the bundled hashes,
	// their inclusion, and consistency with every head the store served.
	if _, err := db.ImportModules(ctx, files, SumDBHashes(m)); err != nil {
		return fmt.Errorf("checksum database %s: %w", m.SumDB.Name, err)
	}
	return nil
}
