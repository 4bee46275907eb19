package checksumdb

import (
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// newTestDB starts a local checksum database (package checksumdbtest)
// holding only the records the test logs.
func newTestDB(t testing.TB) *checksumdbtest.DB {
	t.Helper()
	return checksumdbtest.New(t, "sum.modferry.test", "", 0)
}

// addHashes logs m's record in db now.
func addHashes(t testing.TB, db *checksumdbtest.DB, m ModuleHashes) {
	t.Helper()
	db.Add(t, m.Version, m.ZipHash, m.ModHash)
}

// fixtureHashes computes the go.sum hashes of every module version in an
// upstream download directory; each must have a zip.
func fixtureHashes(t testing.TB, dir string, vs []module.Version) []ModuleHashes {
	t.Helper()
	var out []ModuleHashes
	for _, v := range vs {
		zh, mh, err := checksumdbtest.Hashes(dir, v)
		if err != nil {
			t.Fatal(err)
		}
		if zh == "" {
			t.Fatalf("%v: no zip in %s", v, dir)
		}
		out = append(out, ModuleHashes{Version: v, ZipHash: zh, ModHash: mh})
	}
	return out
}

// fixtures returns the hashes of the testupstream fixtures, written to a
// fresh directory and hashed again on every call.
func fixtures(t testing.TB) []ModuleHashes {
	t.Helper()
	dir := t.TempDir()
	vs, err := testupstream.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureHashes(t, dir, vs)
}
