package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnvWarnsOfNewerHead: a machine whose go command remembers a newer
// tree head than the server holds is warned, with the file to remove; an
// older or equal head, or none, gives no warning.
func TestEnvWarnsOfNewerHead(t *testing.T) {
	head := func(n string) string { return "go.sum database tree\n" + n + "\nAAAA\n\n— sum.golang.org sig\n" }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok","service":"modferry"}`))
		case "/sumdb/sum.golang.org/supported":
		case "/sumdb/sum.golang.org/latest":
			w.Write([]byte(head("1000")))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		local string // "" = no remembered head
		warn  bool
	}{{"", false}, {"999", false}, {"1000", false}, {"1001", true}, {"garbage", false}} {
		gopath := t.TempDir()
		if tc.local != "" {
			dir := filepath.Join(gopath, "pkg", "sumdb", "sum.golang.org")
			os.MkdirAll(dir, 0o755)
			data := head(tc.local)
			if tc.local == "garbage" {
				data = "not a tree head"
			}
			os.WriteFile(filepath.Join(dir, "latest"), []byte(data), 0o644)
		}
		var o envOptions
		o.remote.server = srv.URL
		env, err := buildClientEnv(context.Background(), o, goEnv{GOSUMDB: "sum.golang.org", GOPATH: gopath + string(os.PathListSeparator) + "/elsewhere"})
		if err != nil {
			t.Fatalf("local head %q: %v", tc.local, err)
		}
		warned := false
		for _, w := range env.Warnings {
			if strings.Contains(w, "tree 1001") && strings.Contains(w, filepath.Join(gopath, "pkg", "sumdb", "sum.golang.org", "latest")) {
				warned = true
			}
		}
		if warned != tc.warn {
			t.Errorf("local head %q: warnings %q, want a newer-head warning: %v", tc.local, env.Warnings, tc.warn)
		}
	}
}
