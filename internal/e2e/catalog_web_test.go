package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/catalog"
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
	// Licences of modules imported from a module cache (no SBOM): found
	// in each zip's licence or notice file, shown on the module page and
	// in the API, and kept in the store so that a restart does not look
	// again.
	for path, lic := range map[string]string{"modferry.test/Sirupsen/logrus": "MIT", "modferry.test/sirupsen/logrus": "Apache-2.0"} {
		if code, body := get("/modules/" + path); code != 200 || !strings.Contains(body, `<dd class="licences"><span class="tag">`+lic+`</span>`) {
			t.Errorf("module page of %s: %d, want licence %s\n%s", path, code, lic, body)
		}
		var m api.Module
		if code, body := get(api.ModulesPath + must(module.EscapePath(path))); code != 200 || json.Unmarshal([]byte(body), &m) != nil ||
			len(m.Versions) != 1 || !slices.Equal(m.Versions[0].Licenses, []string{lic}) {
			t.Errorf("API module page of %s: %d %s", path, code, body)
		}
		cache := filepath.Join(store, filepath.FromSlash(catalog.LicenseDir), must(module.EscapePath(path)), "@licenses.json")
		eventually(t, "the licence cache of "+path, func() bool {
			data, err := os.ReadFile(cache)
			return err == nil && strings.Contains(string(data), `"`+lic+`"`)
		})
	}
	if code, body := get("/modferry.test/dep/@v/list"); code != 200 || body != "v1.0.0\nv1.1.0\n" {
		t.Errorf("GOPROXY list: %d %q", code, body)
	}
	if code, _ := get("/static/catalog.css"); code != 200 {
		t.Errorf("static CSS: %d", code)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
