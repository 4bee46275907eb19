package bundle

import (
	"fmt"
	"os"
	"strings"

	"github.com/modferry/modferry/internal/vulndb"
)

// checkVulnEntry checks one vulnerability database entry, name, with
// content data: valid OSV, stored under its own ID.
func checkVulnEntry(name string, mem Member, data []byte) error {
	id, ok := strings.CutPrefix(mem.VulnDB, "ID/")
	if !ok {
		return nil // an index: checkVulnDB compares it with the entries
	}
	if _, err := vulndb.ParseEntry(strings.TrimSuffix(id, ".json"), data); err != nil {
		return memberErr(name, fmt.Errorf("%w: %w", ErrBadVulnDB, err))
	}
	return nil
}

// checkVulnDB checks the vulnerability database as a whole once every
// member is staged: the indexes must be exactly the ones its entries give,
// and the manifest's description must match.
func (rd *reader) checkVulnDB() error {
	if len(rd.vulndb) == 0 {
		if rd.m.VulnDB != nil {
			return memberErr(VulnDBPrefix, fmt.Errorf("%w: the manifest describes a vulnerability database but the bundle holds none", ErrBadVulnDB))
		}
		return nil
	}
	db, err := vulndb.Check(rd.vulndb, func(name string) ([]byte, error) {
		return rd.readStaged(VulnDBPrefix + name)
	})
	if err != nil {
		return memberErr(VulnDBPrefix, fmt.Errorf("%w: %w", ErrBadVulnDB, err))
	}
	if !db.Modified.Equal(rd.m.VulnDB.Modified) || db.Len() != rd.m.VulnDB.Entries {
		return memberErr(VulnDBPrefix, fmt.Errorf("%w: %d entries modified %v, manifest says %d modified %v",
			ErrBadVulnDB, db.Len(), db.Modified, rd.m.VulnDB.Entries, rd.m.VulnDB.Modified))
	}
	return nil
}

func (rd *reader) readStaged(name string) ([]byte, error) {
	file, err := rd.opts.Stage.LocalPath(name)
	if err != nil {
		return nil, memberErr(name, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, memberErr(name, err)
	}
	return data, nil
}
