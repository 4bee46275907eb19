package export

import (
	"fmt"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
)

// A SumDBDisagreesError reports that the checksum database disagrees with
// what the upstream GOPROXY served: the modules, or the vulnerability
// database's zip, were altered, or the database misbehaves. It matches
// checksumdb.ErrSecurity.
type SumDBDisagreesError struct {
	SumDB  string // the database's name, such as "sum.golang.org"
	URL    string // where it was asked
	VulnDB bool   // about the vulnerability database's zip, not the bundle's modules
	Err    error  // what checksumdb.Capture returned
}

func (e *SumDBDisagreesError) Error() string {
	if e.VulnDB {
		return fmt.Sprintf("SECURITY ERROR: the checksum database %s (%s) disagrees with the vulnerability database zip the upstream served: %v", e.SumDB, e.URL, e.Err)
	}
	return fmt.Sprintf("SECURITY ERROR: the checksum database %s (%s) disagrees with what the upstream served — do not use these modules: %v", e.SumDB, e.URL, e.Err)
}

func (e *SumDBDisagreesError) Unwrap() error { return e.Err }

// Is reports that e matches checksumdb.ErrSecurity.
func (e *SumDBDisagreesError) Is(target error) bool { return target == checksumdb.ErrSecurity }

// An InventoryMismatchError reports a module version whose hashes differ
// between the upstream and the inventory of the other side (export
// --since): one of the two copies was altered. It matches
// checksumdb.ErrSecurity.
type InventoryMismatchError struct {
	Upstream  bundle.Module // the version as the upstream served it
	Inventory bundle.Module // the version as the other side holds it
}

func (e *InventoryMismatchError) Error() string {
	return fmt.Sprintf("SECURITY: %s differs between the upstream (zip %s, go.mod %s) and the other side's inventory (zip %s, go.mod %s); refusing to export",
		e.Upstream.ModuleVersion(), e.Upstream.ZipHash, e.Upstream.ModHash, e.Inventory.ZipHash, e.Inventory.ModHash)
}

// Is reports that e matches checksumdb.ErrSecurity.
func (e *InventoryMismatchError) Is(target error) bool { return target == checksumdb.ErrSecurity }
