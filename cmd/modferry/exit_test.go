package main

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/export"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/pgp"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/trust"
)

func TestExitCode(t *testing.T) {
	v := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	member := func(err error) error {
		return fmt.Errorf("b.tar.zst: %w", &bundle.MemberError{Path: "download/x", Err: err})
	}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("disk full"), 1},
		{fmt.Errorf("open: %w", fs.ErrNotExist), 1},
		{member(bundle.ErrCorrupt), 1},
		{usagef("--format %q: want sh", "x"), 2},
		{fmt.Errorf("context: %w", asUsage(errors.New("bad"))), 2},
		{member(fmt.Errorf("%w: sha256 x", bundle.ErrHashMismatch)), 3},
		{member(fmt.Errorf("%w: %w", bundle.ErrBadSignature, sign.ErrUnknownKey)), 3},
		{fmt.Errorf("x: %w", &checksumdb.MismatchError{Module: v, Want: "h1:a", Got: "h1:b"}), 3},
		{&checksumdb.InclusionError{Module: v, Err: errors.New("no proof")}, 3},
		{&importer.ConflictError{Module: v, What: "zip"}, 3},
		{&importer.SumDBKeyError{Name: "sum.golang.org", Key: "sum.golang.org+1+x"}, 3},
		{fmt.Errorf("export: %w", &export.InventoryMismatchError{Upstream: bundle.Module{Path: v.Path, Version: v.Version}}), 3},
		{&export.SumDBDisagreesError{SumDB: "sum.golang.org", Err: &checksumdb.MismatchError{Module: v}}, 3},
		{fmt.Errorf("%w: 1 trusted signer(s), 2 required", trust.ErrTooFewSigners), 3},
		{member(fmt.Errorf("%w: %w", bundle.ErrBadSignature, pgp.ErrBadSignature)), 3},
		{&audit.ChainError{Line: 3, Seq: 3, Reason: "hash"}, 3},
		{&verifyError{failures: []error{errors.New("gone"), member(bundle.ErrSizeMismatch)}, total: 2}, 3},
		{&verifyError{failures: []error{errors.New("gone")}, total: 2}, 1},
		// A security failure outranks a usage mark.
		{asUsage(member(bundle.ErrHashMismatch)), 3},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
