package fillthrough_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/fillthrough"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// TestFillWaitsForImportLock: a fill rewrites the module's @v/list under
// the store's import lock. Here the test holds the lock as an import
// committing would, and once the fill's version is visible it writes the
// list that import planned before (without the filled version); the fill
// then rewrites the list after the import lets go, so the list holds the
// filled version.
func TestFillWaitsForImportLock(t *testing.T) {
	ctx := context.Background()
	f := newFront(t)
	st := store.NewMem()
	srv := proxyServer(t, f, st, fillthrough.Options{})
	v := module.Version{Path: "modferry.test/dep", Version: "v1.1.0"}

	held, err := store.LockImport(ctx, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/modferry.test/dep/@v/v1.1.0.zip")
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !has(t, st, v, modfiles.Info) || !has(t, st, v, modfiles.Zip) {
		if time.Now().After(deadline) {
			t.Fatal("the fill never stored the version")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // time for a fill that does not wait to write its list
	listName, _ := modfiles.ListName(v.Path)
	if err := st.Put(ctx, listName, bytes.NewReader(modfiles.ListFile([]string{"v1.0.0"}))); err != nil {
		t.Fatal(err)
	}
	held.Unlock()
	if code := <-done; code != 200 {
		t.Fatalf("fill: %d", code)
	}
	b, err := store.ReadAll(ctx, st, listName)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "v1.1.0") {
		t.Errorf("@v/list after a fill and an import at once = %q, want v1.1.0 in it", b)
	}
}
