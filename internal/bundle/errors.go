package bundle

import "errors"

// Errors that Read, Write and ParseManifest wrap. Test with errors.Is.
var (
	ErrUnsigned      = errors.New("bundle is not signed")
	ErrBadSignature  = errors.New("manifest signature does not verify")
	ErrBadManifest   = errors.New("invalid manifest")
	ErrManifestFirst = errors.New("MANIFEST.json must be the first member")
	ErrHashMismatch  = errors.New("hash mismatch")
	ErrNotInManifest = errors.New("member not listed in the manifest")
	ErrMissingMember = errors.New("member listed in the manifest is missing")
	ErrUnsafePath    = errors.New("unsafe or unknown member name")
	ErrNotRegular    = errors.New("member is not a regular file")
	ErrDuplicate     = errors.New("duplicate member")
	ErrTooLarge      = errors.New("member larger than allowed")
	ErrSizeMismatch  = errors.New("member size differs from the manifest")
	ErrNonCanonical  = errors.New("bundle encoding is not canonical")
	ErrCorrupt       = errors.New("corrupt bundle stream")
	ErrBadZip        = errors.New("module zip breaks the module zip rules")
	ErrBadInfo       = errors.New("invalid .info file")
	ErrBadVulnDB     = errors.New("invalid vulnerability database")
)

// A MemberError names the bundle member a problem was found in.
type MemberError struct {
	Path string // member name, e.g. "download/golang.org/x/mod/@v/v0.1.0.zip"
	Err  error
}

func (e *MemberError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *MemberError) Unwrap() error { return e.Err }

func memberErr(path string, err error) error { return &MemberError{Path: path, Err: err} }
