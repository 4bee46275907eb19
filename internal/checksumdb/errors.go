package checksumdb

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/module"
)

// ErrSecurity is matched (errors.Is) by every error that is evidence of
// tampering or of a misbehaving checksum database.
var ErrSecurity = errors.New("SECURITY ERROR")

// A MismatchError reports that the checksum database's hash for a module
// differs from the hash that is being carried.
type MismatchError struct {
	Module module.Version
	GoMod  bool   // the go.mod hash (else the zip hash)
	Want   string // the hash carried (the go.sum line's hash)
	Got    string // the hash in the database; "" if it has none
}

func (e *MismatchError) Error() string {
	what := "zip"
	if e.GoMod {
		what = "go.mod"
	}
	got := e.Got
	if got == "" {
		got = "no " + what + " hash"
	}
	return fmt.Sprintf("SECURITY ERROR: %s %s: checksum mismatch\n\tcarried:           %s\n\tchecksum database: %s\nThe module was altered after the database recorded it, or the database misbehaves.",
		e.Module, what, e.Want, got)
}

// Is reports that the error matches ErrSecurity.
func (e *MismatchError) Is(target error) bool { return target == ErrSecurity }

// An InclusionError reports that a module's record could not be proven to
// be in the signed tree.
type InclusionError struct {
	Module module.Version
	Err    error
}

func (e *InclusionError) Error() string {
	return fmt.Sprintf("SECURITY ERROR: %s: record not proven in the checksum database's tree: %v", e.Module, e.Err)
}
func (e *InclusionError) Unwrap() error        { return e.Err }
func (e *InclusionError) Is(target error) bool { return target == ErrSecurity }

// A ForkError reports two signed heads of which neither is a prefix of the
// other: the database showed different histories to different clients.
type ForkError struct {
	Older, Newer *Head
	Detail       string
}

func (e *ForkError) Error() string {
	msg := fmt.Sprintf("SECURITY ERROR: checksum database heads are inconsistent: tree of size %d (%v) is not a prefix of tree of size %d (%v)",
		e.Older.N, e.Older.Hash, e.Newer.N, e.Newer.Hash)
	if e.Detail != "" {
		msg += "\n" + e.Detail
	}
	return msg
}
func (e *ForkError) Is(target error) bool { return target == ErrSecurity }

// A SignatureError reports a signed head that does not verify with the
// database's key, or that cannot be parsed.
type SignatureError struct {
	File string // the file holding the note, such as "latest"
	Err  error
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("SECURITY ERROR: %s: signed tree head does not verify: %v", e.File, e.Err)
}
func (e *SignatureError) Unwrap() error        { return e.Err }
func (e *SignatureError) Is(target error) bool { return target == ErrSecurity }

// A TileConflictError reports two tiles at the same position where the
// shorter is not a prefix of the longer.
type TileConflictError struct {
	Path, Other string
}

func (e *TileConflictError) Error() string {
	return fmt.Sprintf("SECURITY ERROR: tile %s conflicts with %s (tiles only grow by appending)", e.Path, e.Other)
}
func (e *TileConflictError) Is(target error) bool { return target == ErrSecurity }

// A RecordError reports a lookup file that is malformed or does not hold
// the record of the module its name says.
type RecordError struct {
	File string
	Err  error
}

func (e *RecordError) Error() string { return fmt.Sprintf("%s: %v", e.File, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// An IncompleteError reports that a proof lacks files a go client needs.
// When Capture returns it, the capture has a bug; when Verify or Import
// does, the proof was cut short.
type IncompleteError struct {
	Missing []string // paths relative to the database root
	Err     error    // what the client reported
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("checksum proof incomplete: missing %s: %v", strings.Join(e.Missing, ", "), e.Err)
}
func (e *IncompleteError) Unwrap() error { return e.Err }

// An UnprovableError reports an import refused because a head some client
// may hold could not be proven consistent with the imported head using the
// tiles held. Export again with --since a current inventory.
type UnprovableError struct {
	Held, Imported *Head
	Err            error
}

func (e *UnprovableError) Error() string {
	rel := "older"
	if e.Imported.N > e.Held.N {
		rel = "newer"
	}
	return fmt.Sprintf("cannot prove imported checksum head (tree size %d, %s than the held head) consistent with held head (tree size %d) from the tiles held: %v; export again with --since a current inventory",
		e.Imported.N, rel, e.Held.N, e.Err)
}
func (e *UnprovableError) Unwrap() error { return e.Err }
