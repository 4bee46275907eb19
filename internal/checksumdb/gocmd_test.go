package checksumdb

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/testupstream"
)

// offline is a modferry-like server: testupstream's modules and a DB's
// checksum proofs, and nothing else.
type offline struct {
	db  *DB
	st  *store.Disk
	url string

	mu     sync.Mutex
	misses []string // /sumdb/ requests answered with other than 200
}

// takeMisses returns and forgets the /sumdb/ requests that failed.
func (o *offline) takeMisses() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.misses
	o.misses = nil
	return m
}

func newOffline(t *testing.T, up *testupstream.Upstream, key string) *offline {
	t.Helper()
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := NewDB(st, key)
	if err != nil {
		t.Fatal(err)
	}
	o := &offline{db: db, st: st}
	h := Handler(db)
	mux := http.NewServeMux()
	mux.Handle("/sumdb/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			o.mu.Lock()
			o.misses = append(o.misses, fmt.Sprintf("%s %d", r.URL.Path, rec.Code))
			o.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	mux.Handle("/", up)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

// clientEnv is a fresh go client using only the offline server, with the
// checksum database named by its key alone, so it must go through GOPROXY.
func (o *offline) clientEnv(t *testing.T) []string {
	return append(testupstream.GoEnv(t, o.url), "GOSUMDB="+o.db.key, "GONOSUMDB=", "GOPRIVATE=", "GONOSUMCHECK=", "GOINSECURE=")
}

func gopathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "GOPATH="); ok {
			return v
		}
	}
	return ""
}

func appDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", dir)
	return dir
}

func runAll(t *testing.T, dir string, env []string) (string, error) {
	t.Helper()
	var out strings.Builder
	for _, args := range [][]string{{"mod", "download", "all"}, {"build", "./..."}, {"mod", "verify"}} {
		o, err := testupstream.RunGo(t, dir, env, args...)
		out.WriteString(o)
		if err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}

func TestGoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	ctx := context.Background()
	up := testupstream.New(t)
	fx := fixtureHashes(t, up.Dir, up.Versions())
	sdb := newTestDB(t)
	sdb.AddFiller(t, 300)
	for i, m := range fx {
		addHashes(t, sdb, m)
		sdb.AddFiller(t, 3*i)
	}
	sdb.AddFiller(t, 20)
	p, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx})
	if err != nil {
		t.Fatal(err)
	}
	var tiles int
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "tile/") {
			tiles++
		}
	}
	t.Logf("proof for %d modules: tree size %d, %d files (%d tiles), %d bytes", len(fx), p.Head.N, len(p.Files), tiles, p.Size())
	if _, err := Verify(p.Files, sdb.Name, sdb.Key, fx); err != nil {
		t.Fatal(err)
	}
	off := newOffline(t, up, sdb.Key)
	if _, err := off.db.Import(ctx, p.Files); err != nil {
		t.Fatal(err)
	}

	t.Run("pass", func(t *testing.T) {
		env := off.clientEnv(t)
		if _, err := runAll(t, appDir(t), env); err != nil {
			t.Fatal(err)
		}
		if m := off.takeMisses(); len(m) > 0 {
			t.Errorf("checksum requests not answered: %v", m)
		}
		if _, err := os.Stat(filepath.Join(gopathOf(env), "pkg", "sumdb", sdb.Name, "latest")); err != nil {
			t.Fatalf("client did not use the checksum database: %v", err)
		}
	})

	lib := fx[0]
	for _, m := range fx {
		if m.Path == "modferry.test/lib" && m.Version.Version == "v1.0.0" {
			lib = m
		}
	}
	libLookup, _ := modfiles.LookupPath(lib.Version)
	libRec, _ := off.db.Lookup(ctx, lib.Version)
	id, _, _, _ := tlog.ParseRecord(libRec)
	leaf := tlog.TileForIndex(tileHeight, tlog.StoredHashIndex(0, id))
	leaf = tlog.Tile{H: tileHeight, L: 0, N: leaf.N, W: 1 << tileHeight}
	if end := p.Head.N - leaf.N<<tileHeight; end < int64(leaf.W) {
		leaf.W = int(end)
	}
	tamper := map[string]func(data []byte) (string, []byte){
		"lookup record": func([]byte) (string, []byte) {
			d, _ := off.db.Lookup(ctx, lib.Version)
			return libLookup, bytes.Replace(d, []byte(lib.ZipHash[:10]), []byte("h1:AAAAAAA"), 1)
		},
		"tile byte": func([]byte) (string, []byte) {
			d, err := off.db.Tile(ctx, leaf)
			if err != nil {
				t.Fatal(err)
			}
			d = bytes.Clone(d)
			d[(id%256)*32] ^= 1
			return leaf.Path(), d
		},
		"lookup head signature": func([]byte) (string, []byte) {
			d, _ := off.db.Lookup(ctx, lib.Version)
			i := bytes.LastIndex(d, []byte(" "))
			d = bytes.Clone(d)
			copy(d[i+1:], "AAAA")
			return libLookup, d
		},
	}
	for name, f := range tamper {
		t.Run("tamper "+name, func(t *testing.T) {
			path, data := f(nil)
			obj := off.db.obj(path)
			orig, err := store.ReadAll(ctx, off.st, obj)
			if err != nil {
				t.Fatal(err)
			}
			if err := off.st.Put(ctx, obj, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			defer off.st.Put(ctx, obj, bytes.NewReader(orig))
			out, err := runAll(t, appDir(t), off.clientEnv(t))
			if err == nil {
				t.Fatal("the go command accepted a tampered checksum database")
			}
			if !strings.Contains(out, "verifying") && !strings.Contains(out, "SECURITY") {
				t.Errorf("unexpected failure:\n%s", out)
			}
			t.Logf("the go command says:\n%s", out)
		})
	}
}

func TestGoCommandIncremental(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	ctx := context.Background()
	up := testupstream.New(t)
	fx := fixtureHashes(t, up.Dir, up.Versions())
	var first, later []ModuleHashes
	for _, m := range fx {
		if m.Path == "modferry.test/lib" && m.Version.Version == "v1.2.0" {
			later = append(later, m)
		} else {
			first = append(first, m)
		}
	}
	sdb := newTestDB(t)
	sdb.AddFiller(t, 280)
	for _, m := range first {
		addHashes(t, sdb, m)
		sdb.AddFiller(t, 5)
	}
	p1, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: first})
	if err != nil {
		t.Fatal(err)
	}
	off := newOffline(t, up, sdb.Key)
	if _, err := off.db.Import(ctx, p1.Files); err != nil {
		t.Fatal(err)
	}
	env := off.clientEnv(t)
	dir := appDir(t)
	if _, err := runAll(t, dir, env); err != nil {
		t.Fatal(err)
	}
	if m := off.takeMisses(); len(m) > 0 {
		t.Errorf("checksum requests not answered: %v", m)
	}

	// The log grows; bundle 2 is exported --since the inventory.
	sdb.AddFiller(t, 150)
	for _, m := range later {
		addHashes(t, sdb, m)
	}
	sdb.AddFiller(t, 33)
	held, err := off.db.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var old [][]byte
	for _, h := range held {
		old = append(old, h.Note)
	}
	p2, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: later, OldHeads: old})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("incremental proof: tree %d -> %d, %d files, %d bytes: %v", p1.Head.N, p2.Head.N, len(p2.Files), p2.Size(), p2.Paths())
	if _, err := Verify(p2.Files, sdb.Name, sdb.Key, later, old...); err != nil {
		t.Fatal(err)
	}
	res, err := off.db.Import(ctx, p2.Files)
	if err != nil {
		t.Fatal(err)
	}
	if res.Head.N != p2.Head.N {
		t.Fatalf("head after import %d, want %d", res.Head.N, p2.Head.N)
	}
	// The same client (same GOPATH, holding head 1) needs lib v1.2.0.
	if _, err := testupstream.RunGo(t, dir, env, "get", "modferry.test/lib@v1.2.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := runAll(t, dir, env); err != nil {
		t.Fatal(err)
	}
	if m := off.takeMisses(); len(m) > 0 {
		t.Errorf("checksum requests not answered: %v", m)
	}
	latest, _ := os.ReadFile(filepath.Join(gopathOf(env), "pkg", "sumdb", sdb.Name, "latest"))
	if !bytes.Equal(latest, p2.Head.Note) {
		t.Errorf("client's latest head is not head 2:\n%s", latest)
	}

	// Importing bundle 1 again (an older head) is accepted, the head stays.
	res, err = off.db.Import(ctx, p1.Files)
	if err != nil {
		t.Fatalf("re-import of the older bundle: %v", err)
	}
	if res.Head.N != p2.Head.N {
		t.Fatalf("head moved backwards to %d", res.Head.N)
	}

	// A client holding a head newer than the store's fails clearly.
	sdb.AddFiller(t, 40)
	env2 := off.clientEnv(t)
	cfg := filepath.Join(gopathOf(env2), "pkg", "sumdb", sdb.Name, "latest")
	os.MkdirAll(filepath.Dir(cfg), 0o755)
	if err := os.WriteFile(cfg, sdb.SignedHead(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runAll(t, appDir(t), env2)
	if err == nil {
		t.Fatal("a client holding a newer head than the store's succeeded")
	}
	t.Logf("client with a newer head: the go command says:\n%s\nserver misses: %v", out, off.takeMisses())
}
