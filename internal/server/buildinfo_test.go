package server

import (
	"encoding/json"
	"regexp"
	"runtime"
	"testing"

	"github.com/modferry/modferry/internal/buildinfo"
)

// TestBuildInfo checks that /healthz?verbose and /metrics say what the
// server was built from, and that /healthz?verbose needs no token.
func TestBuildInfo(t *testing.T) {
	f := newFixture(t, Config{})
	read := f.add(t, "ci", "read")
	want := buildinfo.Read()

	w := f.do(req{path: "/healthz?verbose"})
	wantCode(t, w, 200, "healthz?verbose without a token")
	var h Health
	if err := json.Unmarshal(w.Body.Bytes(), &h); err != nil {
		t.Fatalf("healthz?verbose: %v\n%s", err, w.Body)
	}
	if h.Status != "ok" || h.Service != "modferry" || h.Info != want || h.GoVersion != runtime.Version() {
		t.Errorf("healthz?verbose = %+v, want status ok, service modferry, %+v", h, want)
	}
	if w := f.do(req{path: "/healthz"}); w.Body.String() != "ok\n" {
		t.Errorf("plain healthz = %q, want ok", w.Body)
	}

	w = f.do(req{path: "/metrics", token: read})
	wantCode(t, w, 200, "metrics")
	re := regexp.MustCompile(`(?m)^modferry_build_info\{([^}]*)\} 1$`)
	m := re.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no modferry_build_info 1 in /metrics:\n%s", w.Body)
	}
	for _, label := range []string{`goversion="` + runtime.Version() + `"`, `version="` + want.Version + `"`, `revision="` + want.Revision + `"`} {
		if !regexp.MustCompile(regexp.QuoteMeta(label)).MatchString(m[1]) {
			t.Errorf("modferry_build_info labels %s lack %s", m[1], label)
		}
	}
}
