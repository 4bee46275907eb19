package fillthrough_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/fillthrough"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// TestPrunedFetchedAgain: a version prune removed from the team proxy's
// store is fetched again when a client asks for it; one deleted on
// purpose keeps answering 410.
func TestPrunedFetchedAgain(t *testing.T) {
	ctx := context.Background()
	f := newFront(t)
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{})
	repo := &modules.Repo{Store: st}
	dep := module.Version{Path: "modferry.test/dep", Version: "v1.1.0"}
	lib := module.Version{Path: "modferry.test/lib", Version: "v1.0.0"}
	for _, v := range []module.Version{dep, lib} {
		if code, body := get(t, srv.URL+"/"+v.Path+"/@v/"+v.Version+".zip"); code != 200 {
			t.Fatalf("%s: %d %s", v, code, body)
		}
	}
	now := time.Now().UTC()
	if err := repo.Delete(ctx, dep, modules.GoneRecord{Time: now, Actor: "test", Reason: "pruned: unused", Pruned: true}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Delete(ctx, lib, modules.GoneRecord{Time: now, Actor: "test", Reason: "withdrawn"}); err != nil {
		t.Fatal(err)
	}
	// The proxy's cache of small files rechecks the store within a second.
	time.Sleep(1100 * time.Millisecond)
	code, body := get(t, srv.URL+"/modferry.test/dep/@v/v1.1.0.zip")
	if code != 200 {
		t.Fatalf("pruned version: %d %s", code, body)
	}
	if c := f.count("/modferry.test/dep/@v/v1.1.0.zip"); c != 2 {
		t.Errorf("upstream got %d requests for the pruned zip; want 2", c)
	}
	if g, err := repo.IsGone(ctx, dep); err != nil || g != nil {
		t.Errorf("the pruned record stays: %+v, %v", g, err)
	}
	if vs, err := repo.List(ctx, dep.Path); err != nil || !strings.Contains(strings.Join(vs, " "), "v1.1.0") {
		t.Errorf("list %v, %v", vs, err)
	}
	code, body = get(t, srv.URL+"/modferry.test/lib/@v/v1.0.0.zip")
	if code != http.StatusGone || !strings.Contains(string(body), "withdrawn") {
		t.Fatalf("deleted version: %d %s", code, body)
	}
}
