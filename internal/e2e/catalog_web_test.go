package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestServeWebCatalog: `modferry serve` shows the web catalog at "/" and
// indexes the store in the background (the search finds what an import
// from another process added), while every longer path stays GOPROXY's.
func TestServeWebCatalog(t *testing.T) {
	up := testupstream.New(t)
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	url := serve(t, store)

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; {
		var code int
		code, body = get("/?q=modferry.test/dep")
		if code == 200 && strings.Contains(body, `href="/modules/modferry.test/dep"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog never listed modferry.test/dep: %d\n%s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get("/modules/modferry.test/dep"); code != 200 || !strings.Contains(body, "go get modferry.test/dep@v1.1.0") {
		t.Errorf("module page: %d\n%s", code, body)
	}
	if code, body := get("/modferry.test/dep/@v/list"); code != 200 || body != "v1.0.0\nv1.1.0\n" {
		t.Errorf("GOPROXY list: %d %q", code, body)
	}
	if code, _ := get("/static/catalog.css"); code != 200 {
		t.Errorf("static CSS: %d", code)
	}
}
