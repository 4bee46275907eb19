package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSafeNext: the page a login goes on to is a path on this server,
// judged by the Location header http.Redirect sends for it (which cleans
// the path), as a browser reads it (a backslash is a slash, tabs and
// newlines are dropped).
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/", "/"},
		{"/modules/corp.example/lib?tab=versions", "/modules/corp.example/lib?tab=versions"},
		{"/-/catalog#top", "/-/catalog#top"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/./\\evil.example", "/"},
		{"/.//evil.example", "/.//evil.example"},   // sent as /evil.example
		{"/%09/evil.example", "/%09/evil.example"}, // stays a path: %09 is not a tab until decoded
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/a/../..//evil.example", "/a/../..//evil.example"}, // sent as /evil.example
		{"javascript:alert(1)", "/"},
	} {
		got := safeNext(tc.next)
		if got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest("GET", "/login", nil), got, http.StatusSeeOther)
		loc := w.Header().Get("Location")
		read := strings.NewReplacer("\\", "/", "\t", "", "\n", "", "\r", "").Replace(loc)
		if !strings.HasPrefix(read, "/") || strings.HasPrefix(read, "//") {
			t.Errorf("safeNext(%q) = %q: the browser is sent to %q", tc.next, got, loc)
		}
	}
}
