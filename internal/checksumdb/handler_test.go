package checksumdb

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/store"
)

func newServedDB(t testing.TB) (*DB, *Proof, http.Handler) {
	t.Helper()
	ctx := context.Background()
	sdb := newTestDB(t)
	sdb.AddFiller(t, 300)
	fx := fixtures(t)[:3]
	for _, m := range fx {
		addHashes(t, sdb, m)
	}
	sdb.AddFiller(t, 10)
	p, err := Capture(ctx, CaptureOptions{VerifierKey: sdb.Key, Fetch: sdb.Fetch, Modules: fx})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := NewDB(st, sdb.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(ctx, p.Files); err != nil {
		t.Fatal(err)
	}
	return db, p, Handler(db)
}

func get(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://x/", nil)
	req.URL.Path = path
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	db, p, h := newServedDB(t)
	base := "/sumdb/" + db.Name() + "/"
	for _, path := range p.Paths() {
		rec := get(h, base+path)
		if rec.Code != 200 || rec.Body.String() != string(p.Files[path]) {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
	// A partial tile cut from a wider one.
	var wide string
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "tile/8/0/") && !strings.Contains(path, ".p/") {
			wide = path
		}
	}
	if wide != "" {
		rec := get(h, base+wide+".p/7")
		if rec.Code != 200 || rec.Body.String() != string(p.Files[wide][:7*32]) {
			t.Errorf("cut tile: %d", rec.Code)
		}
		if !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("tile cache header %q", rec.Header().Get("Cache-Control"))
		}
	}
	for path, code := range map[string]int{
		base + "supported":                        200,
		"/sumdb/other.db/supported":               404,
		base + "lookup/modferry.test/nope@v1.0.0": 404,
		base + "lookup/Bad/Path@v1.0.0":           400,
		base + "lookup/noversion":                 400,
		base + "tile/8/0/999":                     404,
		base + "tile/8/0/x":                       400,
		base + "tile/8/data/000":                  404,
		base + "whatever":                         404,
	} {
		if rec := get(h, path); rec.Code != code {
			t.Errorf("%s: %d, want %d (%s)", path, rec.Code, code, rec.Body)
		}
	}
}

func FuzzHandlerPath(f *testing.F) {
	db, p, h := newServedDB(f)
	base := "/sumdb/" + db.Name() + "/"
	for _, path := range p.Paths() {
		f.Add(base + path)
	}
	for _, s := range []string{base + "tile/8/0/001.p/300", base + "tile/30/5/x999/999/999.p/1", base + "lookup/a@v1", base + "lookup/../../x@v1.0.0", "/sumdb/", "/sumdb//", base + "tile/8/-1/000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rec := get(h, path)
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", path, rec.Code, rec.Body)
		}
	})
}
