package bundle

import "errors"

// ErrInvalid is matched (errors.Is) by every error that says a bundle is
// bad, as opposed to a failure to read it (a full disk, a closed
// connection): each of the finer Err* values below matches it, and so
// does every *MemberError. Test for a finer value where the kind of
// fault matters, such as tampering rather than corruption.
var ErrInvalid = errors.New("invalid bundle")

// Errors that Read, Write and ParseManifest wrap. Test with errors.Is;
// each also matches ErrInvalid.
var (
	ErrUnsigned      = invalid("bundle is not signed")
	ErrBadSignature  = invalid("manifest signature does not verify")
	ErrBadManifest   = invalid("invalid manifest")
	ErrManifestFirst = invalid("MANIFEST.json must be the first member")
	ErrHashMismatch  = invalid("hash mismatch")
	ErrNotInManifest = invalid("member not listed in the manifest")
	ErrMissingMember = invalid("member listed in the manifest is missing")
	ErrUnsafePath    = invalid("unsafe or unknown member name")
	ErrNotRegular    = invalid("member is not a regular file")
	ErrDuplicate     = invalid("duplicate member")
	ErrTooLarge      = invalid("member larger than allowed")
	ErrSizeMismatch  = invalid("member size differs from the manifest")
	ErrNonCanonical  = invalid("bundle encoding is not canonical")
	ErrCorrupt       = invalid("corrupt bundle stream")
	ErrBadZip        = invalid("module zip breaks the module zip rules")
	ErrBadInfo       = invalid("invalid .info file")
	ErrBadVulnDB     = invalid("invalid vulnerability database")
)

// invalidError is the type of the finer sentinels: each is matched by
// itself (errors.Is compares with ==) and matches ErrInvalid.
type invalidError struct{ msg string }

func invalid(msg string) error { return &invalidError{msg} }

func (e *invalidError) Error() string { return e.msg }

// Is reports that e matches ErrInvalid.
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// A MemberError names the bundle member a problem was found in. It
// matches ErrInvalid, and whatever Err matches.
type MemberError struct {
	Path string // member name, e.g. "download/golang.org/x/mod/@v/v0.1.0.zip"
	Err  error
}

func (e *MemberError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *MemberError) Unwrap() error { return e.Err }

// Is reports that e matches ErrInvalid.
func (e *MemberError) Is(target error) bool { return target == ErrInvalid }

func memberErr(path string, err error) error { return &MemberError{Path: path, Err: err} }
