package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

func TestVersionPath(t *testing.T) {
	v := module.Version{Path: "corp.example/Big/lib", Version: "v1.2.0-RC.1"}
	p, err := VersionPath(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/api/v1/modules/corp.example/!big/lib/@v/v1.2.0-!r!c.1"; p != want {
		t.Fatalf("VersionPath = %q, want %q", p, want)
	}
	got, err := ParseVersion(strings.TrimPrefix(p, ModulesPath))
	if err != nil || got != v {
		t.Fatalf("ParseVersion(%q) = %v, %v; want %v", p, got, err, v)
	}
	for _, bad := range []string{
		"corp.example/lib",               // no /@v/
		"corp.example/lib/@v/",           // no version
		"corp.example/lib/@v/v1.0.0/x",   // a slash in the version
		"corp.example/Lib/@v/v1.0.0",     // not escaped
		"corp.example/lib/@v/v1.0",       // not canonical
		"corp.example/lib/v2/@v/v1.0.0",  // wrong major version
		"corp.example/lib/@v/v1.0.0+bad", // not canonical either
	} {
		if v, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", bad, v)
		}
	}
	if _, err := VersionPath(module.Version{Path: "corp.example/lib", Version: "v1.0.0\x00"}); err == nil {
		t.Error("VersionPath of a bad version: no error")
	}
}

// mu guards the requests a server records.
var mu sync.Mutex

// server answers each request with handle, after recording it.
func server(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) (*Client, *[]*http.Request) {
	t.Helper()
	var seen []*http.Request
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request body: %v", err)
		}
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		handle(w, r, body)
	}))
	t.Cleanup(ts.Close)
	return &Client{URL: ts.URL + "/", HTTP: ts.Client()}, &seen
}

func TestClientErrors(t *testing.T) {
	answers := []struct {
		code   int
		ctype  string
		body   string
		status int
		msg    string
		sec    bool
	}{
		{409, "application/json", `{"error":"corp.example/a@v1.0.0: versions are immutable"}` + "\n", 409, "corp.example/a@v1.0.0: versions are immutable", false},
		{401, "text/plain", "authentication required\n", 401, "authentication required", false},
		{502, "text/html", "<html>bad gateway</html>", 502, "<html>bad gateway</html>", false},
		{400, "application/json", `{"other":"x"}`, 400, `{"other":"x"}`, false},
		{400, "application/json", `{"error":"bad signature","security":true}`, 400, "bad signature", true},
		// Only the JSON error body can say "security"; text cannot.
		{400, "text/plain", `security true`, 400, "security true", false},
	}
	for _, a := range answers {
		c, _ := server(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", a.ctype)
			w.WriteHeader(a.code)
			io.WriteString(w, a.body)
		})
		_, err := c.Delete(context.Background(), module.Version{Path: "corp.example/a", Version: "v1.0.0"}, "why")
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%d: error %v (%T), want an *Error", a.code, err, err)
		}
		if errors.Is(err, ErrSecurity) != a.sec || e.Security != a.sec {
			t.Errorf("%d %s: matches ErrSecurity %v, want %v", a.code, a.body, errors.Is(err, ErrSecurity), a.sec)
		}
		if e.Status != a.status || e.Message != a.msg {
			t.Errorf("%d: Error{%d, %q}, want {%d, %q}", a.code, e.Status, e.Message, a.status, a.msg)
		}
		if want := http.StatusText(a.code); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), a.msg) {
			t.Errorf("%d: message %q lacks %q or %q", a.code, err, want, a.msg)
		}
	}

	// A 2xx answer that is not the JSON expected.
	c, _ := server(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { io.WriteString(w, "ok") })
	if _, err := c.Delete(context.Background(), module.Version{Path: "corp.example/a", Version: "v1.0.0"}, "why"); err == nil || !strings.Contains(err.Error(), "reading the answer") {
		t.Errorf("undecodable answer: %v", err)
	}
}

func TestClientRequests(t *testing.T) {
	v := module.Version{Path: "corp.example/Lib", Version: "v1.0.0"}
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600))
	c, seen := server(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.Method {
		case http.MethodPut:
			// The body was read by server: parse the multipart form from it.
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				t.Errorf("publish body: %v", err)
			}
			mod, _, _ := r.FormFile(PartMod)
			zip, _, _ := r.FormFile(PartZip)
			var m, z []byte
			if mod != nil && zip != nil {
				m, _ = io.ReadAll(mod)
				z, _ = io.ReadAll(zip)
			}
			if string(m) != "module corp.example/Lib\n" || string(z) != "ZIP" || r.FormValue(PartTime) != "2024-05-06T06:08:09Z" {
				t.Errorf("publish parts: mod %q zip %q time %q", m, z, r.FormValue(PartTime))
			}
			io.WriteString(w, `{"path":"corp.example/Lib","version":"v1.0.0","h1":"h1:x"}`)
		case http.MethodDelete:
			io.WriteString(w, `{"path":"corp.example/Lib","version":"v1.0.0","reason":"`+r.URL.Query().Get(ReasonParam)+`"}`)
		case http.MethodPost:
			if string(body) != "BUNDLE" || r.Header.Get("Content-Type") != "application/zstd" {
				t.Errorf("bundle upload: %q, %s", body, r.Header.Get("Content-Type"))
			}
			io.WriteString(w, `{"digest":"d"}`)
		}
	})
	ctx := context.Background()

	// Without a token, no Authorization header.
	if _, err := c.Delete(ctx, v, "no token"); err != nil {
		t.Fatal(err)
	}
	c.Token = "mf_secret"
	res, err := c.Publish(ctx, v, []byte("module corp.example/Lib\n"), strings.NewReader("ZIP"), when)
	if err != nil || res.Hash != "h1:x" || res.Path != v.Path {
		t.Fatalf("Publish: %+v, %v", res, err)
	}
	d, err := c.Delete(ctx, v, "CVE-1 & more")
	if err != nil || d.Reason != "CVE-1 & more" {
		t.Fatalf("Delete: %+v, %v", d, err)
	}
	var out struct{ Digest string }
	if err := c.PostBundle(ctx, strings.NewReader("BUNDLE"), &out); err != nil || out.Digest != "d" {
		t.Fatalf("PostBundle: %+v, %v", out, err)
	}

	want := []struct{ method, uri, auth string }{
		{"DELETE", "/api/v1/modules/corp.example/!lib/@v/v1.0.0?reason=no+token", ""},
		{"PUT", "/api/v1/modules/corp.example/!lib/@v/v1.0.0", "Bearer mf_secret"},
		{"DELETE", "/api/v1/modules/corp.example/!lib/@v/v1.0.0?reason=CVE-1+%26+more", "Bearer mf_secret"},
		{"POST", "/api/v1/bundles", "Bearer mf_secret"},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(*seen) != len(want) {
		t.Fatalf("%d requests, want %d", len(*seen), len(want))
	}
	for i, r := range *seen {
		w := want[i]
		if r.Method != w.method || r.RequestURI != w.uri || r.Header.Get("Authorization") != w.auth {
			t.Errorf("request %d: %s %s, Authorization %q; want %s %s, %q", i, r.Method, r.RequestURI, r.Header.Get("Authorization"), w.method, w.uri, w.auth)
		}
	}
}
