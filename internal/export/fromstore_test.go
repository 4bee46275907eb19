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
// store but whose .info is not (a publish or fetch in progress) goes into
// a --from-store bundle as go.mod-only.
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
	files, err := copyStore(ctx, st, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Module.Version+"."+string(f.Kind))
	}
	if want := "v1.0.0.info v1.0.0.mod v1.0.0.zip v1.1.0.mod"; strings.Join(got, " ") != want {
		t.Errorf("copied %v, want %s", got, want)
	}
}
