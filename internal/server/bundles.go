package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/tamper"
	"github.com/modferry/modferry/internal/trust"
)

// apiImport imports a bundle as it arrives, exactly as 'modferry import'
// does: verified, all or nothing. The stream is checked byte by byte as it
// is read (importer.ImportStream), so a body that is not a bundle is
// refused at its first bad byte rather than after it has been stored.
func (s *Server) apiImport(w http.ResponseWriter, r *http.Request, token string) {
	actor := actorOf(token)
	if s.bundleTrust.Keys == nil {
		apiError(w, http.StatusForbidden, "this server imports no bundles over HTTP: start it with --pubkey KEY.pub to trust a signing key")
		return
	}
	release, ok := s.uploadSlot(w)
	if !ok {
		return
	}
	defer release()
	in, ok := s.begin(w, r, audit.Entry{Actor: actor, Action: audit.ActionImport, Target: "upload"})
	if !ok {
		return
	}
	body := &countReader{r: http.MaxBytesReader(w, r.Body, s.maxBundle)}
	var keyID string
	var res *importer.Result
	var err error
	switch {
	case r.ContentLength > s.maxBundle:
		err = &http.MaxBytesError{Limit: s.maxBundle}
	case r.ContentLength > 0:
		err = checkFree(importer.ScratchSpace(s.store, s.importScratch()), s.minFree, r.ContentLength)
	}
	if err == nil {
		res, err = importer.ImportStream(context.WithoutCancel(r.Context()), s.store, body, "upload", importer.Options{
			Verify: func(m []byte, sigs bundle.Signatures) error {
				signers, err := s.bundleTrust.Verify(m, sigs)
				keyID = trust.SignerIDs(signers)
				return err
			},
			CheckManifest: func(m *bundle.Manifest) error {
				var need int64
				for _, f := range m.Files {
					need += f.Size
				}
				return checkFree(importer.ScratchSpace(s.store, s.importScratch()), s.minFree, need)
			},
			Actor:      actor,
			ScratchDir: s.tempDir,
		})
	}
	size := strconv.FormatInt(body.n, 10)
	if err != nil {
		code := http.StatusInternalServerError
		var ce *importer.ConflictError
		var mbe *http.MaxBytesError
		switch {
		case isDiskFull(err):
			code = http.StatusInsufficientStorage
		case errors.Is(err, os.ErrDeadlineExceeded):
			code = http.StatusRequestTimeout
			err = fmt.Errorf("the bundle arrived too slowly (serve --min-rate, --stall-timeout): %w", err)
		case errors.As(err, &mbe):
			code = http.StatusRequestEntityTooLarge
			err = fmt.Errorf("the bundle is larger than this server accepts (%d bytes, serve --max-bundle-size)", s.maxBundle)
		case errors.As(err, &ce):
			code = http.StatusConflict
		case isBundleError(err):
			code = http.StatusBadRequest
		case retryIfUnavailable(w, err):
			code = http.StatusServiceUnavailable
			err = fmt.Errorf("the store cannot be reached for now; retry shortly: %w", err)
		}
		if code >= 500 {
			s.log.Error("importing an uploaded bundle", "code", code, "err", err)
		}
		s.finish(w, r, in, failResult(code), map[string]string{"error": err.Error(), "bytes": size})
		writeJSON(w, code, api.ErrorBody{Error: err.Error(), Security: tamper.Evidence(err)})
		return
	}
	d := map[string]string{"bytes": size, "digest": res.Digest, "key": keyID, "added": strconv.Itoa(len(res.Added)), "present": strconv.Itoa(len(res.Present))}
	if res.AlreadyImported {
		d["alreadyImported"] = "true"
	}
	paths := make([]string, 0, len(res.Added))
	for _, v := range res.Added {
		if len(paths) == 0 || paths[len(paths)-1] != v.Path {
			paths = append(paths, v.Path)
		}
	}
	ok = s.finish(w, r, in, audit.ResultOK, d)
	s.refreshCatalog(r.Context(), paths...)
	if ok {
		s.log.Info("imported a bundle", "digest", res.Digest, "actor", actor, "added", len(res.Added))
		writeJSON(w, http.StatusOK, res)
	}
}

// isBundleError reports whether err says the bundle itself is bad (a
// client error) rather than that the server failed: it breaks a bundle
// rule or is evidence of tampering, or its checksum-database proofs are
// incomplete, malformed or cannot join the store's.
func isBundleError(err error) bool {
	var (
		ie *checksumdb.IncompleteError
		ue *checksumdb.UnprovableError
		re *checksumdb.RecordError
	)
	return errors.Is(err, bundle.ErrInvalid) || errors.Is(err, checksumdb.ErrSecurity) ||
		errors.As(err, &ie) || errors.As(err, &ue) || errors.As(err, &re)
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
