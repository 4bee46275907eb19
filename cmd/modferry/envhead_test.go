package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// memHashes is an in-memory tlog hash store.
type memHashes map[int64]tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = h
	}
	return out, nil
}

// TestEnvHeadWarning: env warns when this machine's go command remembers a
// tree head that the server cannot prove consistent with its own (a newer
// one, or an older one whose proof tiles the server lacks), and not when
// the heads agree, the proof is there, or nothing is remembered.
func TestEnvHeadWarning(t *testing.T) {
	hashes := memHashes{}
	const size = 1000
	for n := int64(0); n < size; n++ {
		hs, err := tlog.StoredHashes(n, []byte(fmt.Sprintf("record %d\n", n)), hashes)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hs {
			hashes[tlog.StoredHashIndex(0, n)+int64(i)] = h
		}
	}
	note := func(n int64) string {
		h, err := tlog.TreeHash(n, hashes)
		if err != nil {
			t.Fatal(err)
		}
		return string(tlog.FormatTree(tlog.Tree{N: n, Hash: h})) + "\n— sum.golang.org sig\n"
	}
	tiles := map[string][]byte{}
	for _, tile := range tlog.NewTiles(8, 0, 900) {
		data, err := tlog.ReadTileData(tile, hashes)
		if err != nil {
			t.Fatal(err)
		}
		tiles["/sumdb/sum.golang.org/"+tile.Path()] = data
	}
	serveTiles := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz":
			w.Write([]byte(`{"status":"ok","service":"modferry"}`))
		case p == "/sumdb/sum.golang.org/supported":
		case p == "/sumdb/sum.golang.org/latest":
			w.Write([]byte(note(900)))
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
		{"the same head", note(900), true, false},
		{"an older head, proof served", note(500), true, false},
		{"an older head, no proof", note(500), false, true},
		{"a newer head", note(1000), true, true},
		{"a forked older head", "go.sum database tree\n500\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n", true, true},
		{"not a tree head", "garbage", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serveTiles = tc.tiles
			gopath := t.TempDir()
			if tc.local != "" {
				dir := filepath.Join(gopath, "pkg", "sumdb", "sum.golang.org")
				os.MkdirAll(dir, 0o755)
				os.WriteFile(filepath.Join(dir, "latest"), []byte(tc.local), 0o644)
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
