package export

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestVulnDBTimeNotFromInfo: the time of a vulnerability database comes
// from its pseudo-version, not from the proxy's .info (which no checksum
// covers), and a .info time in the future is refused.
func TestVulnDBTimeNotFromInfo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".info") {
			w.Write([]byte(`{"Version":"v1.0.0","Time":"2099-01-01T00:00:00Z"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	_, _, _, err := fetchVulnDB(context.Background(), srv.Client(), srv.URL, module.Version{Path: "golang.org/x/vulndb", Version: "v1.0.0"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "in the future") {
		t.Errorf("a .info dated 2099: %v, want it refused", err)
	}
	// A pseudo-version's own time wins: the .info's 2099 is never used,
	// so the fetch goes on to the zip (404 here).
	_, _, _, err = fetchVulnDB(context.Background(), srv.Client(), srv.URL, module.Version{Path: "golang.org/x/vulndb", Version: "v0.0.0-20261101000000-abcdefabcdef"}, t.TempDir())
	if err == nil || strings.Contains(err.Error(), "in the future") {
		t.Errorf("a pseudo-version with a .info dated 2099: %v, want the zip's 404", err)
	}
}
