package importer

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/diskfree"
)

// A NoSpaceError reports that the store's filesystem (or, for a store
// kept elsewhere, the local scratch space of the import: ScratchSpace)
// filled up during an import. The bundle is not at fault; nothing was
// committed. It matches syscall.ENOSPC (or EDQUOT, for a quota) with
// errors.Is.
type NoSpaceError struct {
	Dir  string // the store's directory, or the scratch space
	Need int64  // bytes the bundle's members take once staged; 0 if unknown
	Free int64  // bytes free when the import gave up; -1 if unknown
	Err  error
}

func (e *NoSpaceError) Error() string {
	msg := "no space left on device in " + e.Dir
	if e.Need > 0 {
		msg += fmt.Sprintf(": the bundle's files need %d bytes there, %d are free", e.Need, e.Free)
	}
	return msg + "; nothing was imported, and the bundle is not at fault"
}

func (e *NoSpaceError) Unwrap() error { return e.Err }

// noSpace turns err into a *NoSpaceError if it says the disk holding dir
// is full.
func noSpace(err error, dir string, manifest []byte) error {
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
		return err
	}
	e := &NoSpaceError{Dir: dir, Free: -1, Err: err}
	if m, perr := bundle.ParseManifest(manifest); perr == nil {
		for _, f := range m.Files {
			e.Need += f.Size
		}
	}
	if free, err := diskfree.Available(dir); err == nil {
		e.Free = free
	}
	return e
}
