package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/publish"
	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
)

// The JSON API, whose routes, bodies and client are package api; its
// route table is routeTable.
//
// Every request that changes something (publish, delete, bundle import,
// token add and revoke) is recorded in the audit log before it is carried
// out, and refused, changing nothing, if it cannot be: 507 while the audit
// log's disk is full, 503 on a read-only store or a damaged log. If the
// change was made but its outcome could not be recorded, the answer is
// 500 saying exactly that.

// maxTokenBody bounds the body of POST /api/v1/tokens.
const maxTokenBody = 64 << 10

// actorOf is the audit actor for a token name.
func actorOf(token string) string {
	if token == "" {
		return "anonymous"
	}
	return "token:" + token
}

// retryIfUnavailable reports whether err is a store that cannot be
// reached for now (store.ErrUnavailable) or an import running that a
// change waited for too long (store.ErrLockBusy), and if so sets
// Retry-After on the 503 the caller answers.
func retryIfUnavailable(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", store.UnavailableRetryAfter)
	case errors.Is(err, store.ErrLockBusy):
		w.Header().Set("Retry-After", publish.LockRetryAfter)
	default:
		return false
	}
	return true
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, api.ErrorBody{Error: msg})
}

// begin records, before a state change is carried out, that it is about
// to be (audit.Log.Begin): write-ahead auditing. If the log cannot take
// the entry, nothing may change: begin answers 507 (no space for the log)
// or 503 (a read-only store, a damaged log) with the reason and returns
// false. Without an audit log it returns a nil intent and true.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, e audit.Entry) (*audit.Intent, bool) {
	if s.audit == nil {
		return nil, true
	}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail["client"] = auth.ClientKey(s.clientAddr(r))
	e.Detail["via"] = "api"
	in, err := s.audit.Begin(context.WithoutCancel(r.Context()), e)
	if err != nil {
		code, why := auditStatus(err)
		s.log.Error("refusing a change: the audit log cannot record it", "action", e.Action, "target", e.Target, "err", err)
		retryIfUnavailable(w, err)
		apiError(w, code, fmt.Sprintf("%s %s refused: %s (details in the server log)", e.Action, e.Target, why))
		return nil, false
	}
	return in, true
}

// auditStatus is the status of a change refused because the audit log
// cannot record it, and why in words.
func auditStatus(err error) (int, string) {
	switch {
	case errors.Is(err, audit.ErrNoSpace):
		return http.StatusInsufficientStorage, "no space for the audit log; changes are refused until there is room"
	case errors.Is(err, audit.ErrReadOnly):
		return http.StatusServiceUnavailable, "the store is read-only"
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable, "the store cannot be reached for now; retry shortly"
	}
	return http.StatusServiceUnavailable, "the audit log cannot record changes"
}

// finish records the outcome of a change begun with begin and reports
// whether the caller may answer. For a change that was carried out
// (ResultOK) whose outcome cannot be recorded, it answers 500 saying
// exactly that — done, intent logged, outcome to be logged at the next
// chance — and returns false.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, in *audit.Intent, result string, detail map[string]string) bool {
	if in == nil {
		return true
	}
	_, err := in.Finish(r.Context(), result, detail)
	if err == nil {
		return true
	}
	e := in.Entry()
	s.log.Error("recording the outcome of a change", "action", e.Action, "target", e.Target, "result", result, "err", err)
	if result != audit.ResultOK {
		return true
	}
	apiError(w, http.StatusInternalServerError, fmt.Sprintf("%s %s was done, but %v; the server records it as soon as the log takes entries again", e.Action, e.Target, err))
	return false
}

// failResult is the audit result of a change refused or failed with code.
func failResult(code int) string {
	if code == http.StatusConflict || code == http.StatusBadRequest || code == http.StatusNotFound || code == http.StatusRequestEntityTooLarge {
		return audit.ResultDenied
	}
	return audit.ResultError
}

func (s *Server) apiPublish(w http.ResponseWriter, r *http.Request, v module.Version, actor string) {
	release, ok := s.uploadSlot(w)
	if !ok {
		return
	}
	defer release()
	in, ok := s.begin(w, r, audit.Entry{Actor: actor, Action: audit.ActionPublish, Target: v.String()})
	if !ok {
		return
	}
	m, err := s.receiveUpload(w, r, v)
	if err == nil {
		defer m.Close()
		if in != nil {
			m.AuditIntent = in.Entry().Seq
		}
		err = publish.Publish(context.WithoutCancel(r.Context()), s.repo, m)
	}
	if err != nil {
		code := uploadStatus(err)
		if code >= 500 {
			s.log.Error("publishing", "module", v.String(), "err", err)
		}
		s.finish(w, r, in, failResult(code), map[string]string{"error": err.Error()})
		retryIfUnavailable(w, err)
		apiError(w, code, err.Error())
		return
	}
	// The catalog reads a publish's origin from the audit log: refresh it
	// once the outcome is recorded.
	ok = s.finish(w, r, in, audit.ResultOK, map[string]string{"h1": m.Hash, "goModH1": m.ModHash})
	s.refreshCatalog(r.Context(), v.Path)
	if ok {
		s.log.Info("published", "module", v.String(), "actor", actor, "h1", m.Hash)
		writeJSON(w, http.StatusCreated, publish.ResultOf(m))
	}
}

// receiveUpload reads the multipart body of a publish request into a
// checked Module whose zip is a canonical copy of the uploaded one, in the
// upload directory; the caller closes it. Each part may appear once.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request, v module.Version) (*publish.Module, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxZip+modzip.MaxGoMod+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("%w: want a multipart/form-data body with parts mod and zip: %v", publish.ErrInvalid, err)
	}
	dir, err := s.uploadDir()
	if err != nil {
		return nil, err
	}
	if r.ContentLength > 0 {
		if err := checkFree(dir, s.minFree, r.ContentLength); err != nil {
			return nil, err
		}
	}
	tmp, err := scratch.CreateTemp(dir, "modferry-publish-*.zip")
	if err != nil {
		return nil, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	var mod []byte
	var when time.Time
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading the multipart body: %w", publish.ErrInvalid, err)
		}
		name := part.FormName()
		if seen[name] {
			part.Close()
			return nil, fmt.Errorf("%w: part %q appears more than once", publish.ErrInvalid, name)
		}
		seen[name] = true
		switch name {
		case api.PartMod:
			mod, err = io.ReadAll(io.LimitReader(part, modzip.MaxGoMod+1))
			if err == nil && len(mod) > modzip.MaxGoMod {
				err = fmt.Errorf("%w: go.mod is larger than %d bytes", publish.ErrTooLarge, modzip.MaxGoMod)
			}
		case api.PartZip:
			var n int64
			n, err = io.Copy(&spaceWriter{f: tmp, floor: s.minFree}, io.LimitReader(part, s.maxZip+1))
			if err == nil && n > s.maxZip {
				err = fmt.Errorf("%w: the zip is larger than %d bytes", publish.ErrTooLarge, s.maxZip)
			}
		case api.PartTime:
			var b []byte
			if b, err = io.ReadAll(io.LimitReader(part, 100)); err == nil {
				when, err = time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
			}
		default:
			err = fmt.Errorf("unknown part %q (want mod, zip, time)", name)
		}
		part.Close()
		if err != nil {
			var we *writeError
			if isDiskFull(err) || errors.As(err, &we) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: upload: %w", publish.ErrInvalid, err)
		}
	}
	if mod == nil || !seen[api.PartZip] {
		return nil, fmt.Errorf("%w: the upload needs both a mod and a zip part", publish.ErrInvalid)
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return publish.FromFiles(v, mod, tmp.Name(), when)
}

func (s *Server) apiDelete(w http.ResponseWriter, r *http.Request, v module.Version, actor string) {
	reason := strings.TrimSpace(r.URL.Query().Get(api.ReasonParam))
	in, ok := s.begin(w, r, audit.Entry{Actor: actor, Action: audit.ActionDelete, Target: v.String(), Detail: map[string]string{"reason": reason}})
	if !ok {
		return
	}
	rec := modules.GoneRecord{Time: time.Now().UTC(), Actor: actor, Reason: reason}
	err := publish.Delete(context.WithoutCancel(r.Context()), s.repo, v, rec)
	s.proxy.Forget(v)
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, publish.ErrNoReason):
			code = http.StatusBadRequest
		case errors.Is(err, fs.ErrNotExist):
			code = http.StatusNotFound
		case errors.Is(err, publish.ErrBusy):
			code = http.StatusConflict
		case retryIfUnavailable(w, err):
			code = http.StatusServiceUnavailable
			s.log.Warn("deleting: the store is unavailable", "module", v.String(), "err", err)
		default:
			s.log.Error("deleting", "module", v.String(), "err", err)
		}
		s.finish(w, r, in, failResult(code), map[string]string{"error": err.Error()})
		apiError(w, code, err.Error())
		return
	}
	ok = s.finish(w, r, in, audit.ResultOK, nil)
	s.refreshCatalog(r.Context(), v.Path)
	if ok {
		s.log.Info("deleted", "module", v.String(), "actor", actor, "reason", reason)
		writeJSON(w, http.StatusOK, api.Deleted{Path: v.Path, Version: v.Version, Time: rec.Time, Actor: actor, Reason: reason})
	}
}

// apiVersion describes one stored version.
func (s *Server) apiVersion(w http.ResponseWriter, r *http.Request, v module.Version, _ string) {
	ctx := r.Context()
	if g, err := s.repo.IsGone(ctx, v); err == nil && g != nil {
		writeJSON(w, http.StatusGone, api.Deleted{Path: v.Path, Version: v.Version, Time: g.Time, Actor: g.Actor, Reason: g.Reason})
		return
	}
	name, _ := modfiles.Name(v, modfiles.Info)
	b, err := store.ReadAll(ctx, s.repo.Store, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			apiError(w, http.StatusNotFound, fmt.Sprintf("%s is not in this store", v))
			return
		}
		if retryIfUnavailable(w, err) {
			apiError(w, http.StatusServiceUnavailable, "the store cannot be reached for now; retry shortly")
			return
		}
		apiError(w, http.StatusInternalServerError, "reading the store")
		return
	}
	var info modules.InfoJSON
	json.Unmarshal(b, &info)
	res := api.Result{Path: v.Path, Version: v.Version, Time: info.Time}
	if name, err := modfiles.Name(v, modfiles.ZipHash); err == nil {
		if h, err := store.ReadAll(ctx, s.repo.Store, name); err == nil {
			res.Hash = strings.TrimSpace(string(h))
		}
	}
	if name, err := modfiles.Name(v, modfiles.Mod); err == nil {
		if mod, err := store.ReadAll(ctx, s.repo.Store, name); err == nil {
			res.ModHash = modfiles.HashMod(mod)
		}
	}
	writeJSON(w, http.StatusOK, s.withVulns(ctx, res))
}

func (s *Server) apiTokenList(w http.ResponseWriter, _ *http.Request, _ string) {
	if s.gate.tokens == nil {
		writeJSON(w, http.StatusOK, []auth.Info{})
		return
	}
	list, err := s.gate.tokens.List()
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) apiTokenAdd(w http.ResponseWriter, r *http.Request, token string) {
	actor := actorOf(token)
	var req api.TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "want JSON {\"name\",\"scopes\",\"expires\"}: "+err.Error())
		return
	}
	if s.gate.tokens == nil {
		apiError(w, http.StatusServiceUnavailable, "this server has no token store")
		return
	}
	in, ok := s.begin(w, r, audit.Entry{Actor: actor, Action: audit.ActionTokenAdd, Target: req.Name})
	if !ok {
		return
	}
	secret, err := s.gate.tokens.Add(req.Name, req.Scopes, req.Expires)
	if err != nil {
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, auth.ErrExists):
			code = http.StatusConflict
		case errors.Is(err, audit.ErrReadOnly):
			code = http.StatusServiceUnavailable
		}
		s.finish(w, r, in, failResult(code), map[string]string{"error": err.Error()})
		apiError(w, code, err.Error())
		return
	}
	scopes, _ := auth.ParseScopes(auth.FormatScopes(req.Scopes))
	d := map[string]string{"scopes": auth.FormatScopes(scopes)}
	if !req.Expires.IsZero() {
		d["expires"] = req.Expires.UTC().Format(time.RFC3339)
	}
	// If the outcome cannot be recorded, the secret is not shown: the
	// answer says the token exists, to be revoked and made again.
	if s.finish(w, r, in, audit.ResultOK, d) {
		writeJSON(w, http.StatusCreated, api.TokenCreated{Name: req.Name, Scopes: scopes, Expires: req.Expires, Secret: secret})
	}
}

func (s *Server) apiTokenRevoke(w http.ResponseWriter, r *http.Request, token string) {
	name, actor := r.PathValue("name"), actorOf(token)
	if s.gate.tokens == nil {
		apiError(w, http.StatusNotFound, "no such token")
		return
	}
	in, ok := s.begin(w, r, audit.Entry{Actor: actor, Action: audit.ActionTokenRevoke, Target: name})
	if !ok {
		return
	}
	if err := s.gate.tokens.Revoke(name); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, auth.ErrNotFound) {
			code = http.StatusNotFound
		}
		s.finish(w, r, in, failResult(code), map[string]string{"error": err.Error()})
		apiError(w, code, err.Error())
		return
	}
	if s.finish(w, r, in, audit.ResultOK, nil) {
		writeJSON(w, http.StatusOK, api.TokenRevoked{Name: name})
	}
}
