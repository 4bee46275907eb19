package export

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// TestCopyStoreLeavesOutUnfinishedZips: a version whose zip is in the
// store but whose .info is not (a publish or fetch in progress) stays out
// of a --from-store bundle, go.mod and all: a publish rolled back may come
// again with another go.mod.
func TestCopyStoreLeavesOutUnfinishedZips(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	repo := &modules.Repo{Store: st}
	whole := module.Version{Path: "corp.test/m", Version: "v1.0.0"}
	busy := module.Version{Path: "corp.test/m", Version: "v1.1.0"}
	for _, v := range []module.Version{whole, busy} {
		if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module corp.test/m\n"), Zip: strings.NewReader("zip"), ZipHash: "h1:x"}); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := modfiles.Name(busy, modfiles.Info)
	if err := st.Delete(ctx, info); err != nil {
		t.Fatal(err)
	}
	// A publish that has written only its go.mod so far (its intent
	// there), and a go.mod-only version.
	pub := module.Version{Path: "corp.test/m", Version: "v1.2.0"}
	modOnly := module.Version{Path: "corp.test/dep", Version: "v0.1.0"}
	for _, v := range []module.Version{pub, modOnly} {
		n, _ := modfiles.Name(v, modfiles.Mod)
		if err := st.Put(ctx, n, strings.NewReader("module "+v.Path+"\n")); err != nil {
			t.Fatal(err)
		}
	}
	pending, _ := modfiles.PendingName(pub)
	if err := st.Put(ctx, pending, strings.NewReader(`{"host":"h","pid":1}`)); err != nil {
		t.Fatal(err)
	}
	files, err := copyStore(ctx, st, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Module.Version+"."+string(f.Kind))
	}
	if want := "v0.1.0.mod v1.0.0.info v1.0.0.mod v1.0.0.zip"; strings.Join(got, " ") != want {
		t.Errorf("copied %v, want %s", got, want)
	}
}
