package server

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/trust"
)

// TestAuditFull: with an audit log that cannot take a byte (log.jsonl is
// /dev/full), the server starts, serves reads, and refuses every change
// with 507 and the reason, changing nothing; once the log takes entries
// again, the queued server.start is written first and changes work.
func TestAuditFull(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /dev/full")
	}
	_, pub := bundletest.NewKey(t)
	f := newFixture(t, Config{BundleTrust: trust.Policy{Keys: &trust.Keys{Minisign: []sign.PublicKey{pub}}}})
	all := f.add(t, "all", auth.ScopeRead, auth.ScopeWrite, auth.ScopeDelete, auth.ScopeAdmin)
	f.add(t, "old", auth.ScopeRead)
	if err := os.Symlink("/dev/full", f.audit.Path()); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start with a full audit log: %v", err)
	}
	wantCode(t, f.do(req{path: "/corp.example/a/@v/list", token: all}), 200, "list")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/v1.0.0.zip", token: all}), 200, "zip")

	v := module.Version{Path: "corp.example/b", Version: "v1.0.0"}
	mod := "module corp.example/b\n"
	body, ct := upload(t, v, mod, map[string]string{"go.mod": mod, "b.go": "package b\n"})
	changes := []req{
		{method: "PUT", path: "/api/v1/modules/corp.example/b/@v/v1.0.0", body: body, contentType: ct},
		{method: "DELETE", path: "/api/v1/modules/corp.example/a/@v/v1.0.0?reason=x"},
		{method: "POST", path: "/api/v1/tokens", body: strings.NewReader(`{"name":"new","scopes":["read"]}`)},
		{method: "DELETE", path: "/api/v1/tokens/old"},
		{method: "POST", path: "/api/v1/bundles", body: strings.NewReader("not a bundle")},
	}
	for _, c := range changes {
		c.token = all
		w := f.do(c)
		wantCode(t, w, 507, c.method+" "+c.path)
		if !strings.Contains(w.Body.String(), "no space") {
			t.Errorf("%s %s: 507 without the reason: %s", c.method, c.path, w.Body)
		}
	}
	wantCode(t, f.do(req{path: "/corp.example/b/@v/list", token: all}), 404, "list of the refused publish")
	wantCode(t, f.do(req{path: "/corp.example/a/@v/v1.0.0.info", token: all}), 200, "info of the refused delete")
	list, _ := f.tokens.List()
	if len(list) != 2 || list[0].Name != "all" || list[1].Name != "old" {
		t.Fatalf("tokens after refused changes: %+v", list)
	}
	if f.audit.Queued() != 1 {
		t.Fatalf("queued entries: %d, want the server start", f.audit.Queued())
	}

	// Space is back.
	os.Remove(f.audit.Path())
	body, ct = upload(t, v, mod, map[string]string{"go.mod": mod, "b.go": "package b\n"})
	wantCode(t, f.do(req{method: "PUT", path: changes[0].path, body: body, contentType: ct, token: all}), 201, "publish")
	es := readAudit(t, f, audit.Filter{})
	if len(es) != 3 || es[0].Action != audit.ActionServerStart || es[0].Detail["audit.delayed"] != "true" ||
		es[1].Result != audit.ResultPending || es[2].Result != audit.ResultOK {
		t.Fatalf("entries: %+v", es)
	}
	if err := f.srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.audit.Path())
	if _, err := audit.Verify(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if u, _ := audit.Unconfirmed(bytes.NewReader(b)); len(u) != 0 {
		t.Errorf("unconfirmed intents: %+v", u)
	}
}
