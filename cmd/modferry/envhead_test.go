package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
)

// TestEnvHeadWarning: env warns when this machine's go command remembers a
// tree head that the server cannot prove consistent with its own (a newer
// one, or an older one whose proof tiles the server lacks), and not when
// the heads agree, the proof is there, or nothing is remembered.
func TestEnvHeadWarning(t *testing.T) {
	// One database's tree as it grew: heads at 500, 900 and 1000 records,
	// and the tiles of the tree at 900, which the server below holds.
	db := checksumdbtest.New(t, "sum.golang.org", "", 500)
	head500 := string(db.SignedHead(t))
	db.AddFiller(t, 400)
	head900 := string(db.SignedHead(t))
	tiles := map[string][]byte{}
	for _, tile := range tlog.NewTiles(8, 0, 900) {
		data, err := db.Fetch(context.Background(), tile.Path())
		if err != nil {
			t.Fatal(err)
		}
		tiles["/sumdb/sum.golang.org/"+tile.Path()] = data
	}
	db.AddFiller(t, 100)
	head1000 := string(db.SignedHead(t))
	serveTiles := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz":
			w.Write([]byte(`{"status":"ok","service":"modferry"}`))
		case p == "/sumdb/sum.golang.org/supported":
		case p == "/sumdb/sum.golang.org/latest":
			w.Write([]byte(head900))
		case tiles[p] != nil && serveTiles:
			w.Write(tiles[p])
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name   string
		local  string // the remembered head; "" for none
		tiles  bool   // the server serves its tiles
		warned bool
	}{
		{"nothing remembered", "", true, false},
		{"the same head", head900, true, false},
		{"an older head, proof served", head500, true, false},
		{"an older head, no proof", head500, false, true},
		{"a newer head", head1000, true, true},
		{"a forked older head", "go.sum database tree\n500\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n", true, true},
		{"not a tree head", "garbage", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serveTiles = tc.tiles
			gopath := t.TempDir()
			if tc.local != "" {
				dir := filepath.Join(gopath, "pkg", "sumdb", "sum.golang.org")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "latest"), []byte(tc.local), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var o envOptions
			o.remote.server = srv.URL
			env, err := buildClientEnv(context.Background(), o, goEnv{GOSUMDB: "sum.golang.org", GOPATH: gopath, GOMODCACHE: filepath.Join(gopath, "pkg", "mod")})
			if err != nil {
				t.Fatal(err)
			}
			warned := false
			for _, w := range env.Warnings {
				if strings.Contains(w, "cannot prove consistent") && strings.Contains(w, filepath.Join(gopath, "pkg", "sumdb", "sum.golang.org", "latest")) {
					warned = true
				}
			}
			if warned != tc.warned {
				t.Errorf("warnings %q; want the head warning: %v", env.Warnings, tc.warned)
			}
		})
	}
}
