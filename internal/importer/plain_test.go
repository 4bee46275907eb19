package importer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// failingStore is a plainStore whose Put fails for one object name, as
// an object store's upload does when the connection drops.
type failingStore struct {
	store.Store
	fail string
}

var errUpload = errors.New("upload failed")

func (s failingStore) Put(ctx context.Context, name string, r io.Reader) error {
	if name == s.fail {
		return errUpload
	}
	return s.Store.Put(ctx, name, r)
}

// TestImportPutFails makes the upload of each file of a version fail in
// turn, in a store with none of the optional capabilities: the import
// fails with the store's error, the version is not visible (no .info,
// not listed), nothing visible is partial, and importing again into the
// working store finishes the job.
func TestImportPutFails(t *testing.T) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	m := bundletest.Write(t, b, bundletest.RandomModules(4, 3, 500), key)
	v := m.Modules[1].ModuleVersion()
	for _, k := range modfiles.CommitOrder(true) {
		name, _ := modfiles.Name(v, k)
		t.Run(string(k), func(t *testing.T) {
			d := newStore(t)
			tg := target{st: failingStore{plainStore{d}, name}, disk: d, scratch: t.TempDir()}
			_, err := importer.Import(ctx, tg.st, b, tg.opts(pub))
			if !errors.Is(err, errUpload) || !strings.Contains(err.Error(), name) {
				t.Fatalf("import = %v, want the upload error naming %s", err, name)
			}
			checkConsistent(t, d, m)
			infoName, _ := modfiles.Name(v, modfiles.Info)
			if ok, _ := store.Exists(ctx, d, infoName); ok {
				t.Fatalf("%s is visible after its %s failed to upload", v, k)
			}
			if ok, _ := store.Exists(ctx, d, "bundles/"+bundleDigest(t, b)+".json"); ok {
				t.Fatal("a failed import is recorded as imported")
			}
			checkStagingGone(t, tg)
			plain := target{st: plainStore{d}, disk: d, scratch: tg.scratch}
			if _, err := importer.Import(ctx, plain.st, b, plain.opts(pub)); err != nil {
				t.Fatalf("re-import: %v", err)
			}
			repo := &modules.Repo{Store: d}
			for _, mod := range m.Modules {
				if vs, _ := repo.List(ctx, mod.Path); len(vs) != 1 {
					t.Errorf("after re-import, %s lists %v", mod.Path, vs)
				}
			}
		})
	}
}

// bundleDigest is the digest that names a bundle file in the import
// history: its SHA-256.
func bundleDigest(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
