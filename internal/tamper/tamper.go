// Package tamper says which failures are evidence of tampering rather
// than ordinary failures: the one list behind the CLI's exit code 3 and
// the server's "security" flag in API error answers, so that a tampered
// bundle is reported the same way whether it is imported from a file or
// uploaded with import --server.
package tamper

import (
	"errors"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/pgp"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/trust"
)

// sentinels are the errors that are evidence of tampering. Of the bundle
// errors (all match bundle.ErrInvalid) only those that a change to a
// signed bundle causes are here: a corrupt stream or a non-canonical
// encoding is an ordinary failure.
var sentinels = []error{
	// The checksum database (mismatch, inclusion, fork, signature,
	// tiles), a store holding a version with another hash, an export
	// whose upstream disagrees with the inventory, a foreign sumdb key.
	checksumdb.ErrSecurity,
	sign.ErrBadSignature, sign.ErrUnknownKey, pgp.ErrBadSignature, trust.ErrTooFewSigners,
	bundle.ErrBadSignature, bundle.ErrUnsigned,
	bundle.ErrHashMismatch, bundle.ErrSizeMismatch,
	bundle.ErrNotInManifest, bundle.ErrMissingMember, bundle.ErrDuplicate,
	bundle.ErrUnsafePath, bundle.ErrNotRegular,
	audit.ErrTampered, // a bad head, a broken hash chain (*audit.ChainError)
	// A server's API answer that says one of the above happened there.
	api.ErrSecurity,
}

// Evidence reports whether err is evidence of tampering rather than an
// ordinary failure.
func Evidence(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
