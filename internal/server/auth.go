package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
)

// Access control
//
// Every request needs a scope, chosen by its route (routeTable): none for
// /healthz, read for the GOPROXY and checksum-database paths, /metrics and
// GET on the API, write to publish, delete to delete, admin for the token
// API. A method no route of the path takes gets 405 from the mux before
// any token is looked at. Read is
// open while the server is open — no token exists and RequireAuth is
// off — or when AllowAnonymousRead is set; every other scope always needs a
// token. A request that needs a token and has none gets 401 with
// WWW-Authenticate: Basic, which is what makes the go command consult
// GOAUTH; a token without the scope gets 403; a client that failed too
// often gets 429 with Retry-After before its token is even looked at.
//
// The open case costs two atomic loads per request (the answer is
// refreshed from Tokens.Count every openCheckEvery); the token case adds a SHA-256 of the token and a
// map lookup (see auth.Tokens.Authenticate).

// need is the scope a route requires; needNone for open routes.
type need uint8

const (
	needNone need = iota
	needRead
	needWrite
	needDelete
	needAdmin
)

var needScope = [...]auth.Scope{needRead: auth.ScopeRead, needWrite: auth.ScopeWrite, needDelete: auth.ScopeDelete, needAdmin: auth.ScopeAdmin}

// hdrChallenge is the 401 challenge. Basic (not Bearer), because the go
// command and .netrc speak Basic; the token goes in the password.
var hdrChallenge = []string{`Basic realm="modferry", charset="UTF-8"`}

// gate holds the access-control state of a Server.
type gate struct {
	tokens      *auth.Tokens // nil: no tokens, ever
	requireAuth bool
	anonRead    bool
	limiter     *auth.Limiter
	trusted     []netip.Prefix

	forbidden atomic.Int64 // 403s since the last summary

	// The answer of noTokens, cached for openCheckEvery so that the open
	// case reads no clock of its own (time.Now costs more than the rest
	// of the check).
	noTokensCached atomic.Bool
	noTokensUntil  atomic.Int64 // UnixNano
}

// openCheckEvery bounds how long a token created by another process may
// take to close an open server, on top of auth.Tokens' own second.
const openCheckEvery = 250 * time.Millisecond

// openRead reports whether read needs no token at time now.
func (g *gate) openRead(now time.Time) bool {
	return g.anonRead || !g.requireAuth && g.noTokens(now)
}

func (g *gate) noTokens(now time.Time) bool {
	if g.tokens == nil {
		return true
	}
	n := now.UnixNano()
	if n < g.noTokensUntil.Load() {
		return g.noTokensCached.Load()
	}
	none := g.tokens.None() // false while the tokens cannot be read: fail closed
	g.noTokensCached.Store(none)
	g.noTokensUntil.Store(n + int64(openCheckEvery))
	return none
}

// authorize decides whether r may have scope n. It returns the name of the
// token used ("" when none was needed), or answers the request itself and
// returns ok false. now is the time the request arrived.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, n need, now time.Time) (token string, ok bool) {
	g := &s.gate
	if n == needNone || n == needRead && g.openRead(now) {
		return "", true
	}
	secret, has := auth.FromRequest(r)
	if !has {
		msg := "authentication required: send a modferry token as the HTTP Basic password (.netrc, GOAUTH) or as Authorization: Bearer"
		if g.noTokens(now) {
			msg += "; this server has no tokens yet: create one with 'modferry token add'"
		}
		unauthorized(w, r, msg)
		return "", false
	}
	addr := s.clientAddr(r)
	if d := g.limiter.RetryAfter(addr); d > 0 {
		secs := int((d + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		authError(w, r, fmt.Sprintf("too many failed authentications from %s: retry in %d s", auth.ClientKey(addr), secs), http.StatusTooManyRequests)
		return "", false
	}
	if g.tokens == nil {
		g.limiter.Fail(addr)
		unauthorized(w, r, "invalid token: this server has no tokens")
		return "", false
	}
	info, err := g.tokens.Authenticate(secret)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrExpired):
		g.limiter.Fail(addr)
		unauthorized(w, r, fmt.Sprintf("token %q expired on %s", info.Name, info.Expires.UTC().Format(time.RFC3339)))
		return "", false
	case errors.Is(err, auth.ErrUnknownToken):
		g.limiter.Fail(addr)
		unauthorized(w, r, "invalid token")
		return "", false
	case retryIfUnavailable(w, err):
		s.log.Warn("checking a token: the store is unavailable", "err", err)
		http.Error(w, "service unavailable: the tokens' store cannot be reached for now; retry shortly", http.StatusServiceUnavailable)
		return "", false
	default:
		s.log.Error("checking a token", "err", err)
		authError(w, r, "tokens unavailable: see the server log", http.StatusServiceUnavailable)
		return "", false
	}
	if scope := needScope[n]; !info.Has(scope) {
		g.forbidden.Add(1)
		authError(w, r, fmt.Sprintf("forbidden: token %q lacks the %s scope (it has %s)", info.Name, scope, auth.FormatScopes(info.Scopes)), http.StatusForbidden)
		return "", false
	}
	return info.Name, true
}

// checkLogin checks a token given to the web catalog's login form: it
// must have the read scope. Failures count against the client like
// failed authentications do.
func (s *Server) checkLogin(r *http.Request, secret string) error {
	g := &s.gate
	addr := s.clientAddr(r)
	if d := g.limiter.RetryAfter(addr); d > 0 {
		return fmt.Errorf("too many failed authentications from %s: retry in %d s", auth.ClientKey(addr), int((d+time.Second-1)/time.Second))
	}
	if g.tokens == nil {
		g.limiter.Fail(addr)
		return errors.New("invalid token: this server has no tokens")
	}
	info, err := g.tokens.Authenticate(secret)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrExpired):
		g.limiter.Fail(addr)
		return fmt.Errorf("token %q expired on %s", info.Name, info.Expires.UTC().Format(time.RFC3339))
	case errors.Is(err, auth.ErrUnknownToken):
		g.limiter.Fail(addr)
		return errors.New("invalid token")
	default:
		s.log.Error("checking a token", "err", err)
		return errors.New("tokens unavailable: see the server log")
	}
	if !info.Has(auth.ScopeRead) {
		g.forbidden.Add(1)
		return fmt.Errorf("token %q lacks the read scope (it has %s)", info.Name, auth.FormatScopes(info.Scopes))
	}
	return nil
}

func unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header()["Www-Authenticate"] = hdrChallenge
	authError(w, r, msg, http.StatusUnauthorized)
}

// authError answers a request that authorization refused: a JSON error
// under api.Prefix (every API answer is JSON), text elsewhere (the GOPROXY
// protocol's clients show it).
func authError(w http.ResponseWriter, r *http.Request, msg string, code int) {
	if strings.HasPrefix(r.URL.Path, api.Prefix) {
		apiError(w, code, msg)
		return
	}
	http.Error(w, msg, code)
}

// clientAddr returns the address failures are counted against: the peer,
// or, when the peer is a trusted reverse proxy, the nearest address in
// X-Forwarded-For that is not one.
func (s *Server) clientAddr(r *http.Request) string {
	if len(s.gate.trusted) == 0 {
		return r.RemoteAddr
	}
	peer := r.RemoteAddr
	if h, _, err := net.SplitHostPort(peer); err == nil {
		peer = h
	}
	if !s.trusted(peer) {
		return r.RemoteAddr
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop := strings.TrimSpace(hops[j])
			if hop == "" || s.trusted(hop) {
				continue
			}
			return hop
		}
	}
	return r.RemoteAddr
}

func (s *Server) trusted(host string) bool {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.gate.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// lifecycle is the background work between Start and Stop.
type lifecycle struct {
	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	started bool
}

// Start records server.start in the audit log, with detail, and starts
// writing a summary of failed and refused authentications (auth.failure)
// once every SummaryEvery. Call Stop when the server stops.
func (s *Server) Start(ctx context.Context, detail map[string]string) error {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	if s.life.started {
		return errors.New("server: started twice")
	}
	start := audit.Entry{Actor: "server", Action: audit.ActionServerStart, Result: audit.ResultOK, Detail: detail}
	switch err := s.record(ctx, start); {
	case err == nil:
	case s.audit.ReadOnly():
		s.log.Warn("the store is read-only: serving modules and the checksum database; every change is refused", "err", err)
	default:
		// Reads never stop for the audit log: serve them, refuse every
		// change (begin) until the log takes entries again.
		s.log.Error("the audit log cannot record entries: serving reads, refusing every change until it can", "err", err)
		s.audit.Queue(start)
	}
	s.life.started = true
	s.life.stop, s.life.done = make(chan struct{}), make(chan struct{})
	go s.summaries(s.life.stop, s.life.done)
	return nil
}

// Stop writes the last auth.failure summary, if any, and server.stop.
func (s *Server) Stop(ctx context.Context) error {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	if !s.life.started {
		return nil
	}
	s.life.started = false
	close(s.life.stop)
	<-s.life.done
	err := s.writeSummary(ctx)
	if s.audit != nil && s.audit.ReadOnly() {
		return nil
	}
	if serr := s.record(ctx, audit.Entry{Actor: "server", Action: audit.ActionServerStop, Result: audit.ResultOK}); err == nil {
		err = serr
	}
	return err
}

func (s *Server) summaries(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.summaryEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.writeSummary(context.Background()); err != nil {
				s.log.Error("writing the auth.failure audit entry", "err", err)
			}
			if s.audit != nil && s.audit.Queued() > 0 {
				if err := s.audit.Flush(context.Background()); err != nil {
					s.log.Error("writing queued audit entries", "queued", s.audit.Queued(), "err", err)
				} else {
					s.log.Info("the audit log takes entries again: queued entries written")
				}
			}
		}
	}
}

// writeSummary writes one auth.failure entry covering the failures since
// the last one, unless there were none.
func (s *Server) writeSummary(ctx context.Context) error {
	sum := s.gate.limiter.TakeSummary()
	forbidden := s.gate.forbidden.Swap(0)
	if sum.Empty() && forbidden == 0 {
		return nil
	}
	d := sum.Detail()
	d["forbidden"] = strconv.FormatInt(forbidden, 10)
	s.log.Warn("authentication failures", "failures", sum.Failures, "refused", sum.Refused, "forbidden", forbidden, "clients", d["clients"])
	e := audit.Entry{Actor: "server", Action: audit.ActionAuthFailure, Result: audit.ResultDenied, Detail: d}
	err := s.record(ctx, e)
	if err != nil && !s.audit.ReadOnly() {
		s.audit.Queue(e) // written at the next chance
	}
	return err
}

// record appends e to the audit log, if there is one.
func (s *Server) record(ctx context.Context, e audit.Entry) error {
	if s.audit == nil {
		return nil
	}
	_, err := s.audit.Append(ctx, e)
	return err
}
