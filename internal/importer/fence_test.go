package importer_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/storetest"
)

// TestImportStopsOnLostLease: an importer whose lease could not be
// renewed for longer than the lease (less its margin) stops before its
// next commit write with "lost the import lease": no version it had not
// made visible becomes visible, the import is not recorded, and once the
// store is back the bundle imports whole. An importer whose lease keeps
// being renewed commits however long it takes.
func TestImportStopsOnLostLease(t *testing.T) {
	ctx := context.Background()
	key, pub := bundletest.NewKey(t)
	mods := bundletest.RandomModules(7, 3, 300)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	m := bundletest.Write(t, b, mods, key)
	const ttl = 600 * time.Millisecond

	st := storetest.NewLeaseMem(ttl)
	o := importer.Options{Verify: bundletest.Verifier(pub), Actor: "test", ScratchDir: t.TempDir()}
	var cut sync.Once
	o.CommitHook = func(name string) {
		// Before the first version's .info (its .mod, .zip and .ziphash
		// are written): the store goes out of reach past the lease. The
		// commit writes several versions at once; the others wait there
		// too (sync.Once), as they would on a store that does not answer.
		if strings.HasSuffix(name, ".info") {
			cut.Do(func() {
				st.Cut.Store(true)
				time.Sleep(ttl + 200*time.Millisecond)
			})
		}
	}
	_, err := importer.Import(ctx, st, b, o)
	if !errors.Is(err, store.ErrLockLost) || !strings.Contains(err.Error(), "lost the import lease") {
		t.Fatalf("import across an outage longer than its lease: %v; want it to stop with store.ErrLockLost", err)
	}
	checkConsistent(t, st, m)
	repo := &modules.Repo{Store: st}
	for _, mod := range m.Modules {
		if vs, _ := repo.List(ctx, mod.Path); len(vs) != 0 {
			t.Errorf("%s is visible after the importer lost its lease: %v", mod.Path, vs)
		}
	}
	if names, _ := st.List(ctx, "bundles"); len(names) != 0 {
		t.Errorf("the import was recorded after the importer lost its lease: %v", names)
	}

	// The store is back: the same bundle imports whole, through a commit
	// slower than the lease's ttl, because the lease is renewed.
	st.Cut.Store(false)
	o.CommitHook = func(name string) {
		if strings.HasSuffix(name, ".info") {
			time.Sleep(ttl / 2)
		}
	}
	if _, err := importer.Import(ctx, st, b, o); err != nil {
		t.Fatalf("import again once the store is back: %v", err)
	}
	for _, mod := range m.Modules {
		if vs, _ := repo.List(ctx, mod.Path); len(vs) != 1 {
			t.Errorf("after the import, %s lists %v", mod.Path, vs)
		}
	}
}
