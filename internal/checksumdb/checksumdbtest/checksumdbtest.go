// Package checksumdbtest runs a local checksum database for tests: a
// golang.org/x/mod/sumdb test server with a generated key. It is the one
// fake checksum database of modferry's tests.
//
// A record comes from, in this order: a record logged with [DB.Add]; a
// filler record (module paths under filler.test/, see [DB.AddFiller]),
// made-up unrelated modules that make the tree span several tiles; or
// the module files in the GOPROXY directory given to [New] (such as
// testupstream.Upstream.Dir), hashed on demand when a client first looks
// the version up.
package checksumdbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
)

// DB is a running local checksum database.
type DB struct {
	Name string // database name
	Key  string // verifier key, "name+hash+base64"
	URL  string // base URL

	srv *sumdb.TestServer
	dir string // GOPROXY directory records come from; "" for none

	mu      sync.Mutex
	records map[module.Version][]byte // logged by Add
}

// New starts a database named name whose records come from the module
// files under dir ("" for none: only what Add logs), with filler
// unrelated records logged first.
func New(t testing.TB, name, dir string, filler int) *DB {
	t.Helper()
	signer, key, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{Name: name, Key: key, dir: dir, records: make(map[module.Version][]byte)}
	db.srv = sumdb.NewTestServer(signer, db.record)
	hs := httptest.NewServer(sumdb.NewServer(db.srv))
	t.Cleanup(hs.Close)
	db.URL = hs.URL
	db.AddFiller(t, filler)
	return db
}

// GOSUMDB returns the GOSUMDB value naming this database with its URL,
// for the connected side.
func (db *DB) GOSUMDB() string { return db.Key + " " + db.URL }

// Add logs the record of v now (not at the first lookup), with the given
// go.sum hashes of its zip and its go.mod; an empty hash leaves that line
// out. v must not have been looked up before.
func (db *DB) Add(t testing.TB, v module.Version, zipHash, modHash string) {
	t.Helper()
	var b strings.Builder
	if zipHash != "" {
		fmt.Fprintf(&b, "%s %s %s\n", v.Path, v.Version, zipHash)
	}
	if modHash != "" {
		fmt.Fprintf(&b, "%s %s/go.mod %s\n", v.Path, v.Version, modHash)
	}
	db.mu.Lock()
	db.records[v] = []byte(b.String())
	db.mu.Unlock()
	db.lookup(t, v)
}

// AddFiller logs n records of made-up modules, growing the tree.
func (db *DB) AddFiller(t testing.TB, n int) {
	t.Helper()
	for range n {
		var r [8]byte
		rand.Read(r[:])
		db.lookup(t, module.Version{Path: fmt.Sprintf("filler.test/m%x", r), Version: "v1.0.0"})
	}
}

func (db *DB) lookup(t testing.TB, v module.Version) {
	t.Helper()
	if _, err := db.srv.Lookup(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

// record returns the go.sum lines of a module version.
func (db *DB) record(path, vers string) ([]byte, error) {
	db.mu.Lock()
	rec, ok := db.records[module.Version{Path: path, Version: vers}]
	db.mu.Unlock()
	switch {
	case ok:
		return rec, nil
	case strings.HasPrefix(path, "filler.test/"):
		return []byte(fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, vers, FakeHash(path), path, vers, FakeHash(path+"/go.mod"))), nil
	case db.dir == "":
		return nil, os.ErrNotExist
	}
	zh, mh, err := Hashes(db.dir, module.Version{Path: path, Version: vers})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if zh != "" {
		fmt.Fprintf(&b, "%s %s %s\n", path, vers, zh)
	}
	fmt.Fprintf(&b, "%s %s/go.mod %s\n", path, vers, mh)
	return []byte(b.String()), nil
}

// Hashes returns the go.sum hashes of v's zip ("" if dir holds no zip for
// it) and go.mod in the GOPROXY directory dir. A version whose .mod is
// missing is an error matching os.ErrNotExist.
func Hashes(dir string, v module.Version) (zipHash, modHash string, err error) {
	ep, err := module.EscapePath(v.Path)
	if err != nil {
		return "", "", err
	}
	ev, err := module.EscapeVersion(v.Version)
	if err != nil {
		return "", "", err
	}
	base := filepath.Join(dir, filepath.FromSlash(ep), "@v", ev)
	mod, err := os.ReadFile(base + ".mod")
	if err != nil {
		return "", "", os.ErrNotExist
	}
	modHash, err = dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(mod))), nil
	})
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(base + ".zip"); err == nil {
		zipHash, err = dirhash.HashZip(base+".zip", dirhash.Hash1)
		if err != nil {
			return "", "", err
		}
	}
	return zipHash, modHash, nil
}

// FakeHash returns a made-up go.sum hash ("h1:" and base64) derived from s.
func FakeHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "h1:" + base64.StdEncoding.EncodeToString(h[:])
}

// SignedHead returns the database's current signed tree head (the note
// the go command keeps in GOPATH/pkg/sumdb/NAME/latest).
func (db *DB) SignedHead(t testing.TB) []byte {
	t.Helper()
	msg, err := db.srv.Signed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// Fetch gets the database file at path (such as "latest", "lookup/M@V" or
// a tile path) from its server, as checksumdb.CaptureOptions.Fetch does.
func (db *DB) Fetch(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", db.URL+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}
