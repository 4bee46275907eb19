package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/sumdb"
	"github.com/modferry/modferry/internal/trust"
)

// bundlesPath takes bundle uploads:
//
//	POST /api/v1/bundles   body: the bundle file (write scope)
//	                       200 importer.Result; 400 the bundle fails a check;
//	                       409 it conflicts with the store; 403 the server
//	                       trusts no bundle key (serve --pubkey); 507 no
//	                       space for the audit log; 503 a read-only store
const bundlesPath = "/api/v1/bundles"

// maxBundleUpload bounds one uploaded bundle.
const maxBundleUpload = 64 << 30

// apiImport receives a bundle into the store's uploads directory and
// imports it exactly as 'modferry import' does: verified, all or nothing.
func (s *Server) apiImport(w http.ResponseWriter, r *http.Request, actor string) {
	if s.bundleTrust.Keys == nil {
		apiError(w, http.StatusForbidden, "this server imports no bundles over HTTP: start it with --pubkey KEY.pub to trust a signing key")
		return
	}
	disk, ok := s.store.(*store.Disk)
	if !ok {
		apiError(w, http.StatusNotImplemented, "bundle import needs a disk store")
		return
	}
	in, ok := s.begin(w, r, audit.Entry{Actor: actor, Action: audit.ActionImport, Target: "upload"})
	if !ok {
		return
	}
	fail := func(code int, err error) {
		s.finish(w, r, in, failResult(code), map[string]string{"error": err.Error()})
		apiError(w, code, err.Error())
	}
	dir := filepath.Join(disk.Root(), "uploads")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fail(http.StatusInternalServerError, err)
		return
	}
	tmp, err := os.CreateTemp(dir, "bundle-*.tar.zst")
	if err != nil {
		fail(http.StatusInternalServerError, err)
		return
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, http.MaxBytesReader(w, r.Body, maxBundleUpload))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fail(http.StatusBadRequest, fmt.Errorf("receiving the bundle: %w", err))
		return
	}
	var keyID string
	res, err := importer.Import(context.WithoutCancel(r.Context()), disk, tmp.Name(), importer.Options{
		Verify: func(m []byte, sigs bundle.Signatures) error {
			signers, err := s.bundleTrust.Verify(m, sigs)
			keyID = trust.SignerIDs(signers)
			return err
		},
		Actor: actor,
	})
	size := strconv.FormatInt(n, 10)
	if err != nil {
		code := http.StatusInternalServerError
		var ce *importer.ConflictError
		switch {
		case errors.As(err, &ce):
			code = http.StatusConflict
		case isBundleError(err):
			code = http.StatusBadRequest
		}
		if code >= 500 {
			s.log.Error("importing an uploaded bundle", "err", err)
		}
		s.finish(w, r, in, failResult(code), map[string]string{"error": err.Error(), "bytes": size})
		apiError(w, code, err.Error())
		return
	}
	d := map[string]string{"bytes": size, "digest": res.Digest, "key": keyID, "added": strconv.Itoa(len(res.Added)), "present": strconv.Itoa(len(res.Present))}
	if res.AlreadyImported {
		d["already_imported"] = "true"
	}
	if s.finish(w, r, in, audit.ResultOK, d) {
		s.log.Info("imported a bundle", "digest", res.Digest, "actor", actor, "added", len(res.Added))
		writeJSON(w, http.StatusOK, res)
	}
}

// isBundleError reports whether err says the bundle itself is bad (a
// client error) rather than that the server failed.
func isBundleError(err error) bool {
	for _, target := range []error{
		bundle.ErrUnsigned, bundle.ErrBadSignature, bundle.ErrBadManifest, bundle.ErrManifestFirst,
		bundle.ErrHashMismatch, bundle.ErrNotInManifest, bundle.ErrMissingMember, bundle.ErrUnsafePath,
		bundle.ErrNotRegular, bundle.ErrDuplicate, bundle.ErrTooLarge, bundle.ErrSizeMismatch,
		bundle.ErrNonCanonical, bundle.ErrCorrupt, bundle.ErrBadZip, bundle.ErrBadInfo,
		sign.ErrBadSignature, sign.ErrUnknownKey,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var (
		me *bundle.MemberError
		ie *sumdb.IncompleteError
		ue *sumdb.UnprovableError
		re *sumdb.RecordError
	)
	return errors.As(err, &me) || errors.Is(err, sumdb.ErrSecurity) ||
		errors.As(err, &ie) || errors.As(err, &ue) || errors.As(err, &re)
}
