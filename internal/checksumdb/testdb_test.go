package checksumdb

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

	"github.com/modferry/modferry/internal/testupstream"
)

// A testDB is a local checksum database with a generated key, holding
// records added on demand.
type testDB struct {
	name, signer, key string
	srv               *sumdb.TestServer
	url               string // base URL of the database

	mu      sync.Mutex
	records map[string][]byte // path@version -> record text
}

func newTestDB(t testing.TB) *testDB {
	t.Helper()
	db := &testDB{name: "sum.modferry.test", records: make(map[string][]byte)}
	var err error
	db.signer, db.key, err = note.GenerateKey(rand.Reader, db.name)
	if err != nil {
		t.Fatal(err)
	}
	db.srv = sumdb.NewTestServer(db.signer, func(path, vers string) ([]byte, error) {
		db.mu.Lock()
		defer db.mu.Unlock()
		rec, ok := db.records[path+"@"+vers]
		if !ok {
			return nil, os.ErrNotExist
		}
		return rec, nil
	})
	hs := httptest.NewServer(sumdb.NewServer(db.srv))
	t.Cleanup(hs.Close)
	db.url = hs.URL
	return db
}

// add appends m's record to the log (now, not at the first lookup).
func (db *testDB) add(t testing.TB, m ModuleHashes) {
	t.Helper()
	var b strings.Builder
	if m.ZipHash != "" {
		fmt.Fprintf(&b, "%s %s %s\n", m.Path, m.Version.Version, m.ZipHash)
	}
	if m.ModHash != "" {
		fmt.Fprintf(&b, "%s %s/go.mod %s\n", m.Path, m.Version.Version, m.ModHash)
	}
	db.mu.Lock()
	db.records[m.Version.String()] = []byte(b.String())
	db.mu.Unlock()
	if _, err := db.srv.Lookup(context.Background(), m.Version); err != nil {
		t.Fatal(err)
	}
}

// addFiller appends n records of made-up modules.
func (db *testDB) addFiller(t testing.TB, n int) {
	t.Helper()
	for range n {
		var r [8]byte
		rand.Read(r[:])
		p := fmt.Sprintf("filler.test/m%x", r)
		db.add(t, ModuleHashes{Version: module.Version{Path: p, Version: "v1.0.0"}, ZipHash: fakeHash(p), ModHash: fakeHash(p + "/go.mod")})
	}
}

func fakeHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "h1:" + base64.StdEncoding.EncodeToString(h[:])
}

// fetch is a CaptureOptions.Fetch for the database.
func (db *testDB) fetch(ctx context.Context, p string) ([]byte, error) {
	return httpGet(ctx, db.url+"/"+p)
}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
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
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// signedHead returns the database's current signed head.
func (db *testDB) signedHead(t testing.TB) []byte {
	t.Helper()
	msg, err := db.srv.Signed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// fixtureHashes computes the go.sum hashes of every module version in an
// upstream download directory.
func fixtureHashes(t testing.TB, dir string, vs []module.Version) []ModuleHashes {
	t.Helper()
	var out []ModuleHashes
	for _, v := range vs {
		ep, _ := module.EscapePath(v.Path)
		ev, _ := module.EscapeVersion(v.Version)
		base := filepath.Join(dir, filepath.FromSlash(ep), "@v", ev)
		zh, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := os.ReadFile(base + ".mod")
		if err != nil {
			t.Fatal(err)
		}
		mh, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(mod))), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ModuleHashes{Version: v, ZipHash: zh, ModHash: mh})
	}
	return out
}

// fixtures returns the testupstream fixtures' hashes, computed once.
func fixtures(t testing.TB) []ModuleHashes {
	t.Helper()
	dir := t.TempDir()
	vs, err := testupstream.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureHashes(t, dir, vs)
}
