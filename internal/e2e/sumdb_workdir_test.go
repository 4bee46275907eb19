package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestSumDBWorkDirSpoiled: the work dir keeps the checksum database's
// lookups and full tiles, and the go commands of the next export get them
// from there (through the recording proxy). A crash on a file system that
// allocates blocks late can leave such a file of the right length filled
// with zeros; the next export must fetch it again, not hand it to the go
// command, which would stop on it ("downloaded inconsistent tile") as on
// a database that lies.
func TestSumDBWorkDirSpoiled(t *testing.T) {
	up := testupstream.New(t)
	// The fixtures logged first, then enough records after them that
	// their tiles are full ones, the kind the work dir keeps.
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 0)
	for _, v := range up.Versions() {
		zipHash, modHash, err := checksumdbtest.Hashes(up.Dir, v)
		if err != nil {
			t.Fatal(err)
		}
		db.Add(t, v, zipHash, modHash)
	}
	db.AddFiller(t, 600)
	// The upstream proxies the database, as the Go module proxy does, so
	// that the go commands reach it through the recording proxy.
	front := sumdbFront(t, up, db)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app) // no go.sum: the go command looks every module up
	work := t.TempDir()
	// The key alone: the database is reached through the upstream.
	env := []string{"GOSUMDB=" + db.Key, "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}
	export := func() string {
		b := filepath.Join(t.TempDir(), "b.tar.zst")
		mfEnv(t, env, "export", "--sign-key", key, "-o", b, "--work-dir", work, "--upstream", front, app)
		return b
	}
	export()

	var tiles, lookups int
	cache := filepath.Join(work, "sumdb", db.Name)
	err := filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(cache, p)
		switch rel = filepath.ToSlash(rel); {
		case strings.HasPrefix(rel, "tile/"):
			tiles++
		case strings.HasPrefix(rel, "lookup/"):
			lookups++
		default:
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(p, make([]byte, fi.Size()), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if tiles == 0 || lookups == 0 {
		t.Fatalf("the work dir holds %d tiles and %d lookups, want both", tiles, lookups)
	}
	t.Logf("zeroed %d tiles and %d lookups in the work dir", tiles, lookups)

	b := export()
	if out := mf(t, "verify", "--pubkey", pub, b); !strings.HasPrefix(out, "OK ") {
		t.Fatalf("verify: %s", out)
	}
}
