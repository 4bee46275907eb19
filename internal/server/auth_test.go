package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/publish"
	"github.com/modferry/modferry/internal/store"
)

type fixture struct {
	srv    *Server
	root   string
	tokens *auth.Tokens
	audit  *audit.Log
	st     *store.Disk
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	root := t.TempDir()
	st, err := store.NewDisk(root)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := auth.Open(filepath.Join(root, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tk.Close() })
	al, err := audit.Open(filepath.Join(root, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	cfg.Store, cfg.Tokens, cfg.Audit = st, tk, al
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{srv: New(cfg), root: root, tokens: tk, audit: al, st: st}
	f.publish(t, "corp.example/a", "v1.0.0")
	return f
}

func (f *fixture) publish(t testing.TB, path, version string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+path+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n"), 0o644)
	m, err := publish.FromDir(module.Version{Path: path, Version: version}, dir, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := publish.Publish(context.Background(), &modules.Repo{Store: f.st}, m); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) add(t testing.TB, name string, scopes ...auth.Scope) string {
	t.Helper()
	s, err := f.tokens.Add(name, scopes, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type req struct {
	method, path, token, remote string
	basic                       bool
	body                        io.Reader
	contentType                 string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = http.MethodGet
	}
	hr := httptest.NewRequest(r.method, r.path, r.body)
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	switch {
	case r.token != "" && r.basic:
		hr.SetBasicAuth("anyone", r.token)
	case r.token != "":
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, hr)
	return w
}

func wantCode(t *testing.T, w *httptest.ResponseRecorder, code int, what string) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("%s: got %d, want %d\n%s", what, w.Code, code, w.Body.String())
	}
}

func TestOpenWithoutTokens(t *testing.T) {
	f := newFixture(t, Config{})
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list"}), 200, "read with no tokens")
	wantCode(t, f.do(req{path: "/metrics"}), 200, "metrics with no tokens")
	w := f.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=x"})
	wantCode(t, w, 401, "delete with no tokens")
	if !strings.Contains(w.Body.String(), "modferry token add") {
		t.Errorf("401 does not say how to create a token: %s", w.Body)
	}
}

func TestRequireAuth(t *testing.T) {
	f := newFixture(t, Config{RequireAuth: true})
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list"}), 401, "read with --require-auth and no token")
	wantCode(t, f.do(req{path: "/healthz"}), 200, "healthz")
}

func TestTokens(t *testing.T) {
	f := newFixture(t, Config{})
	read := f.add(t, "reader", auth.ScopeRead)
	del := f.add(t, "deleter", auth.ScopeDelete)

	w := f.do(req{path: "/corp.example/a/@v/list"})
	wantCode(t, w, 401, "no token")
	if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="modferry"`) {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	wantCode(t, f.do(req{path: "/healthz"}), 200, "healthz is open")
	wantCode(t, f.do(req{path: "/metrics"}), 401, "metrics without token")
	wantCode(t, f.do(req{path: "/metrics", token: read}), 200, "metrics with read")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: read}), 200, "bearer")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/v1.0.0.mod", token: read, basic: true}), 200, "basic")
	wantCode(t, f.do(req{path: "/sumdb/sum.golang.org/supported", token: del}), 403, "sumdb needs read")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: read + "x"}), 401, "bad token")
	wantCode(t, f.do(req{path: "/api/v1/modules/corp.example/a/@v/v1.0.0", token: read}), 200, "GET API with read")
	w = f.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=x", token: read})
	wantCode(t, w, 403, "delete with read")
	if !strings.Contains(w.Body.String(), "delete scope") {
		t.Errorf("403 body: %s", w.Body)
	}
	wantCode(t, f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/a/@v/v1.1.0", token: read}), 403, "publish with read")
	wantCode(t, f.do(req{path: "/api/v1/tokens", token: read}), 403, "tokens with read")
	wantCode(t, f.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0", token: del}), 400, "delete without reason")
	wantCode(t, f.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=cve", token: del}), 200, "delete")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/v1.0.0.info", token: read}), 410, "deleted version")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: read}), 404, "list after delete")
	wantCode(t, f.do(req{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=cve", token: del}), 404, "delete again")

	// Revoked: refused at once in this process.
	if err := f.tokens.Revoke("reader"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: read}), 401, "revoked token")
}

// TestUnreadableTokensFailClosed: a tokens file that cannot be read (here
// corrupt) leaves the tokens unknown, not absent: the server must not fall
// back to "no tokens, open for reading".
func TestUnreadableTokensFailClosed(t *testing.T) {
	f := newFixture(t, Config{})
	read := f.add(t, "reader", auth.ScopeRead)
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: read}), 200, "read with the token")
	// The first use starts a background write of the last-use time; it
	// must land before the corruption, or it would replace the corrupt
	// file with a good one (it did, on a loaded CI machine).
	path := filepath.Join(f.root, "tokens", auth.TokensFile)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`"last_used"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last-use time was not written back within 10 s:\n%s", b)
		}
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Both the tokens' own look (once a second) and the server's cached
	// "no tokens" answer (openCheckEvery) must have expired.
	time.Sleep(time.Second + openCheckEvery + 100*time.Millisecond)
	w := f.do(req{path: "/corp.example/a/@v/list"})
	if w.Code == 200 {
		t.Fatalf("read without a token while the tokens file is unreadable: 200, want a refusal\n%s", w.Body)
	}
	if w := f.do(req{path: "/corp.example/a/@v/list", token: read}); w.Code == 200 {
		t.Fatalf("read with a token while the tokens file is unreadable: 200, want a refusal")
	}
}

func TestAnonymousRead(t *testing.T) {
	f := newFixture(t, Config{AllowAnonymousRead: true})
	f.add(t, "w", auth.ScopeWrite)
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list"}), 200, "anonymous read")
	wantCode(t, f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/a/@v/v1.1.0"}), 401, "anonymous publish")
}

func TestExpiredToken(t *testing.T) {
	f := newFixture(t, Config{})
	var clock atomic.Int64 // UnixNano
	clock.Store(time.Now().UnixNano())
	f.tokens.SetClock(func() time.Time { return time.Unix(0, clock.Load()) })
	s, err := f.tokens.Add("soon", []auth.Scope{auth.ScopeRead}, time.Unix(0, clock.Load()).Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: s}), 200, "before expiry")
	clock.Add(int64(59 * time.Minute))
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: s}), 200, "a minute before expiry")
	clock.Add(int64(time.Minute))
	w := f.do(req{path: "/corp.example/a/@v/list", token: s})
	wantCode(t, w, 401, "after expiry")
	if !strings.Contains(w.Body.String(), "expired") {
		t.Errorf("body: %s", w.Body)
	}
}

func TestLimiter(t *testing.T) {
	f := newFixture(t, Config{Limiter: &auth.Limiter{Failures: 5, Window: time.Hour}})
	good := f.add(t, "good", auth.ScopeRead)
	const bad = "mf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	codes := map[int]int{}
	for range 100 {
		w := f.do(req{path: "/corp.example/a/@v/list", token: bad, remote: "10.0.0.1:1234"})
		codes[w.Code]++
		if w.Code == 429 && w.Header().Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[401] != 5 || codes[429] != 95 {
		t.Fatalf("codes = %v, want 5×401, 95×429", codes)
	}
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: good, remote: "10.0.0.2:1"}), 200, "good token, other client")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: good, remote: "10.0.0.1:1"}), 429, "good token, limited client")

	// One auth.failure entry summarizes them.
	if err := f.srv.writeSummary(context.Background()); err != nil {
		t.Fatal(err)
	}
	es := readAudit(t, f, audit.Filter{Action: audit.ActionAuthFailure})
	if len(es) != 1 || es[0].Detail["failures"] != "5" || es[0].Detail["refused"] != "96" || !strings.Contains(es[0].Detail["clients"], "10.0.0.1=5") {
		t.Fatalf("summary entries: %+v", es)
	}
	if err := f.srv.writeSummary(context.Background()); err != nil {
		t.Fatal(err)
	}
	if es := readAudit(t, f, audit.Filter{Action: audit.ActionAuthFailure}); len(es) != 1 {
		t.Fatalf("an empty period wrote an entry: %+v", es)
	}
	// Never a token in the log.
	b, _ := os.ReadFile(filepath.Join(f.root, "audit", audit.LogFile))
	if bytes.Contains(b, []byte("mf_")) {
		t.Fatalf("token in the audit log:\n%s", b)
	}
}

func TestTrustedProxy(t *testing.T) {
	f := newFixture(t, Config{
		Limiter:        &auth.Limiter{Failures: 1, Window: time.Hour},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")},
	})
	f.add(t, "r", auth.ScopeRead)
	do := func(xff string) int {
		hr := httptest.NewRequest("GET", "/corp.example/a/@v/list", nil)
		hr.RemoteAddr = "10.9.0.1:5555"
		hr.Header.Set("Authorization", "Bearer mf_bad")
		if xff != "" {
			hr.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, hr)
		return w.Code
	}
	if c := do("192.0.2.1"); c != 401 {
		t.Fatal(c)
	}
	if c := do("192.0.2.1"); c != 429 {
		t.Fatalf("same client behind proxy: %d", c)
	}
	if c := do("192.0.2.2, 10.9.0.7"); c != 401 {
		t.Fatalf("other client behind proxy: %d", c)
	}
}

func readAudit(t *testing.T, f *fixture, filter audit.Filter) []audit.Entry {
	t.Helper()
	r, err := os.Open(f.audit.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	es, err := audit.Read(r, filter)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// outcomes leaves out the intents (written before each change).
func outcomes(es []audit.Entry) []audit.Entry {
	var out []audit.Entry
	for _, e := range es {
		if e.Result != audit.ResultPending {
			out = append(out, e)
		}
	}
	return out
}

func upload(t testing.TB, v module.Version, mod string, files map[string]string) (io.Reader, string) {
	t.Helper()
	dir := t.TempDir()
	for n, d := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(d), 0o644)
	}
	m, err := publish.FromDir(v, dir, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	p, _ := mw.CreateFormFile("mod", "go.mod")
	p.Write([]byte(mod))
	p, _ = mw.CreateFormFile("zip", "x.zip")
	z, _ := os.ReadFile(m.ZipPath)
	p.Write(z)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestAPIPublish(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
	v := module.Version{Path: "corp.example/b", Version: "v1.0.0"}
	mod := "module corp.example/b\n"
	files := map[string]string{"go.mod": mod, "b.go": "package b\n"}

	body, ct := upload(t, v, mod, files)
	resp := f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/b/@v/v1.0.0", token: w, body: body, contentType: ct})
	wantCode(t, resp, 201, "publish")
	var res api.Result
	json.Unmarshal(resp.Body.Bytes(), &res)
	if !strings.HasPrefix(res.Hash, "h1:") {
		t.Fatalf("result %+v", res)
	}
	wantCode(t, f.do(req{path: "/corp.example/b/@latest", token: w}), 200, "latest after publish")

	body, ct = upload(t, v, mod, files)
	resp = f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/b/@v/v1.0.0", token: w, body: body, contentType: ct})
	wantCode(t, resp, 409, "publish again")
	if !strings.Contains(resp.Body.String(), "versions are immutable") {
		t.Errorf("409 body: %s", resp.Body)
	}

	// The server re-checks: a .mod that is not the zip's go.mod, a zip for another version.
	body, ct = upload(t, module.Version{Path: "corp.example/b", Version: "v1.1.0"}, "module corp.example/c\n", files)
	wantCode(t, f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/b/@v/v1.1.0", token: w, body: body, contentType: ct}), 400, "mismatched mod")
	body, ct = upload(t, module.Version{Path: "corp.example/b", Version: "v1.1.0"}, mod, files)
	wantCode(t, f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/b/@v/v1.2.0", token: w, body: body, contentType: ct}), 400, "zip of another version")
	wantCode(t, f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/b/@v/v1.2.0", token: w, body: strings.NewReader("x"), contentType: "text/plain"}), 400, "not multipart")

	all := readAudit(t, f, audit.Filter{Action: audit.ActionPublish})
	es := outcomes(all)
	if len(all) != 10 || all[0].Result != audit.ResultPending || es[0].Detail["intent"] != "1" {
		t.Fatalf("publish entries: %+v", all)
	}
	if len(es) != 5 || es[0].Result != audit.ResultOK || es[0].Actor != "token:w" || es[1].Result != audit.ResultDenied {
		t.Fatalf("publish entries: %+v", es)
	}
}

func TestAPITokens(t *testing.T) {
	f := newFixture(t, Config{})
	admin := f.add(t, "admin", auth.ScopeAdmin)
	resp := f.do(req{method: "POST", path: "/api/v1/tokens", token: admin, body: strings.NewReader(`{"name":"ci","scopes":["read"]}`)})
	wantCode(t, resp, 201, "add token")
	var tc api.TokenCreated
	json.Unmarshal(resp.Body.Bytes(), &tc)
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: tc.Secret}), 200, "new token reads")
	resp = f.do(req{path: "/api/v1/tokens", token: admin})
	wantCode(t, resp, 200, "list tokens")
	if strings.Contains(resp.Body.String(), "mf_") || !strings.Contains(resp.Body.String(), `"ci"`) {
		t.Fatalf("token list: %s", resp.Body)
	}
	wantCode(t, f.do(req{method: "DELETE", path: "/api/v1/tokens/ci", token: admin}), 200, "revoke")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: tc.Secret}), 401, "revoked token")
	wantCode(t, f.do(req{method: "DELETE", path: "/api/v1/tokens/ci", token: admin}), 404, "revoke again")
	if es := outcomes(readAudit(t, f, audit.Filter{Actor: "token:admin"})); len(es) != 3 {
		t.Fatalf("token entries: %+v", es)
	}
}

func TestStartStop(t *testing.T) {
	f := newFixture(t, Config{SummaryEvery: 10 * time.Millisecond})
	f.add(t, "r", auth.ScopeRead)
	if err := f.srv.Start(context.Background(), map[string]string{"addr": "x"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				f.do(req{path: "/corp.example/a/@v/list", token: "mf_nope", remote: "10.1.1.1:1"})
			}
		}()
	}
	wg.Wait()
	time.Sleep(30 * time.Millisecond)
	if err := f.srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	es := readAudit(t, f, audit.Filter{})
	if es[0].Action != audit.ActionServerStart || es[len(es)-1].Action != audit.ActionServerStop {
		t.Fatalf("entries: %+v", es)
	}
	var failures, refused int
	for _, e := range es {
		if e.Action == audit.ActionAuthFailure {
			var a, b int
			json.Unmarshal([]byte(e.Detail["failures"]), &a)
			json.Unmarshal([]byte(e.Detail["refused"]), &b)
			failures, refused = failures+a, refused+b
		}
	}
	if failures+refused != 200 {
		t.Fatalf("summaries count %d failures and %d refusals, want 200 in all", failures, refused)
	}
	if n, err := f.audit.Verify(context.Background()); err != nil || n != len(es) {
		t.Fatalf("verify: %d, %v", n, err)
	}
}

// BenchmarkAuth measures what access control adds to a GOPROXY request
// served from the cache.
func BenchmarkAuth(b *testing.B) {
	for _, tc := range []struct {
		name   string
		tokens bool
	}{{"open", false}, {"token", true}} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b, Config{})
			var tok string
			if tc.tokens {
				tok = f.add(b, "r", auth.ScopeRead)
			}
			hr := httptest.NewRequest("GET", "/corp.example/a/@v/v1.0.0.info", nil)
			if tok != "" {
				hr.Header.Set("Authorization", "Bearer "+tok)
			}
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, hr)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, ok := f.srv.authorize(w, hr, needRead, now); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}
