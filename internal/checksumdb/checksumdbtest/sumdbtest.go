// Package sumdbtest runs a local checksum database for tests: a
// golang.org/x/mod/sumdb test server with a generated key, whose records
// are computed on demand from a GOPROXY directory (such as
// testupstream.Upstream.Dir), plus filler records so that its tree spans
// several tiles.
package checksumdbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
	dir string
}

// New starts a database named name whose records come from the module
// files under dir, with filler unrelated records logged first.
func New(t testing.TB, name, dir string, filler int) *DB {
	t.Helper()
	signer, key, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{Name: name, Key: key, dir: dir}
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

// AddFiller logs n records of made-up modules, growing the tree.
func (db *DB) AddFiller(t testing.TB, n int) {
	t.Helper()
	for range n {
		var r [8]byte
		rand.Read(r[:])
		v := module.Version{Path: fmt.Sprintf("filler.test/m%x", r), Version: "v1.0.0"}
		if _, err := db.srv.Lookup(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
}

// record computes the go.sum lines of a module version from the files.
func (db *DB) record(path, vers string) ([]byte, error) {
	if strings.HasPrefix(path, "filler.test/") {
		return []byte(fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, vers, fake(path), path, vers, fake(path+"/go.mod"))), nil
	}
	ep, err := module.EscapePath(path)
	if err != nil {
		return nil, err
	}
	ev, err := module.EscapeVersion(vers)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(db.dir, filepath.FromSlash(ep), "@v", ev)
	mod, err := os.ReadFile(base + ".mod")
	if err != nil {
		return nil, os.ErrNotExist
	}
	mh, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(mod))), nil
	})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if _, err := os.Stat(base + ".zip"); err == nil {
		zh, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s %s %s\n", path, vers, zh)
	}
	fmt.Fprintf(&b, "%s %s/go.mod %s\n", path, vers, mh)
	return []byte(b.String()), nil
}

func fake(s string) string {
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
