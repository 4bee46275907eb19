package vulndb

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/memzip"
	"github.com/modferry/modferry/internal/store"
)

const entryText = `{
  "schema_version": "1.3.1",
  "id": "GO-2099-0001",
  "modified": "0001-01-01T00:00:00Z",
  "published": "2024-06-01T00:00:00Z",
  "aliases": ["CVE-2099-0001"],
  "summary": "Synthetic flaw in modferry.test/lib",
  "affected": [{
    "package": {"name": "modferry.test/lib", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}],
    "ecosystem_specific": {"imports": [{"path": "modferry.test/lib", "symbols": ["Version"]}]}
  }]
}`

func TestAffects(t *testing.T) {
	e := &Entry{Affected: []Affected{{
		Package: Package{Name: "m.test/a", Ecosystem: "Go"},
		Ranges: []Range{{Type: "SEMVER", Events: []Event{
			{Fixed: "1.2.3"}, {Introduced: "0"}, {Introduced: "1.5.0"}, {Fixed: "1.5.2"}, {Introduced: "2.0.0"},
		}}},
	}}}
	for _, tc := range []struct {
		v     string
		ok    bool
		fixed string
	}{
		{"v0.0.0-20200101000000-abcdefabcdef", true, "v1.2.3"},
		{"v1.2.2", true, "v1.2.3"},
		{"v1.2.3", false, ""},
		{"v1.4.9", false, ""},
		{"v1.5.0", true, "v1.5.2"},
		{"v1.5.2-rc.1", true, "v1.5.2"},
		{"v1.5.2", false, ""},
		{"v2.3.0", true, ""},
	} {
		ok, fixed := e.Affects("m.test/a", tc.v)
		if ok != tc.ok || fixed != tc.fixed {
			t.Errorf("Affects(%s) = %v, %q; want %v, %q", tc.v, ok, fixed, tc.ok, tc.fixed)
		}
	}
	if ok, _ := e.Affects("m.test/b", "v1.0.0"); ok {
		t.Error("Affects reports another module")
	}
	if got := e.fixedFor("m.test/a"); got != "" {
		t.Errorf("fixedFor with an open range = %q, want empty", got)
	}
	e.Affected[0].Ranges[0].Events = e.Affected[0].Ranges[0].Events[:4]
	if got := e.fixedFor("m.test/a"); got != "1.5.2" {
		t.Errorf("fixedFor = %q, want 1.5.2", got)
	}

	// Two affected blocks of one module: the later fix of the second
	// must not hide the first, which was never fixed after 2.0.0
	// (govulncheck reads the index's "fixed" and fetches the entry only
	// below it).
	e2 := &Entry{Affected: []Affected{
		{Package: Package{Name: "m.test/a", Ecosystem: "Go"}, Ranges: []Range{{Type: "SEMVER", Events: []Event{
			{Introduced: "0"}, {Fixed: "1.0.0"}, {Introduced: "2.0.0"}}}}},
		{Package: Package{Name: "m.test/a", Ecosystem: "Go"}, Ranges: []Range{{Type: "SEMVER", Events: []Event{
			{Introduced: "0"}, {Fixed: "3.0.0"}}}}},
	}}
	if ok, _ := e2.Affects("m.test/a", "v3.5.0"); !ok || e2.fixedFor("m.test/a") != "" {
		t.Errorf("two blocks, one never fixed: Affects(v3.5.0) = %v, index fixed = %q; want true and \"\"", ok, e2.fixedFor("m.test/a"))
	}
	e2.Affected[0].Ranges[0].Events = append(e2.Affected[0].Ranges[0].Events, Event{Fixed: "2.1.0"})
	if got := e2.fixedFor("m.test/a"); got != "3.0.0" {
		t.Errorf("two blocks, both fixed: index fixed = %q, want 3.0.0", got)
	}
}

// testZip writes a vulndb-like module zip holding the given OSV files.
func testZip(t *testing.T, v module.Version, osv map[string]string) string {
	t.Helper()
	files := map[string][]byte{"go.mod": []byte("module " + v.Path + "\n"), "README.md": []byte("synthetic\n")}
	for name, text := range osv {
		files["data/osv/"+name] = []byte(text)
	}
	var buf bytes.Buffer
	if err := memzip.Create(&buf, v, files); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "v.zip")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

var testVersion = module.Version{Path: "modferry.test/vulndb", Version: "v0.0.0-20240701000000-cccccccccccc"}

func testDB(t *testing.T, when time.Time) *DB {
	t.Helper()
	db, err := FromModuleZip(testZip(t, testVersion, map[string]string{"GO-2099-0001.json": entryText}), testVersion, when)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestFromModuleZip(t *testing.T) {
	when := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	db := testDB(t, when)
	if db.Len() != 1 || !db.Modified.Equal(when) {
		t.Fatalf("db: %d entries, modified %v", db.Len(), db.Modified)
	}
	files, err := db.Files()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		DBIndex:      `{"modified":"2024-07-01T00:00:00Z"}`,
		ModulesIndex: `[{"path":"modferry.test/lib","vulns":[{"id":"GO-2099-0001","modified":"2024-07-01T00:00:00Z","fixed":"1.2.0"}]}]`,
		VulnsIndex:   `[{"id":"GO-2099-0001","modified":"2024-07-01T00:00:00Z","aliases":["CVE-2099-0001"]}]`,
	}
	for name, w := range want {
		if got := string(files[name]); got != w {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
	}
	entry := string(files["ID/GO-2099-0001.json"])
	if !strings.Contains(entry, `"modified":"2024-07-01T00:00:00Z"`) || !strings.Contains(entry, `"ecosystem_specific":{"imports"`) {
		t.Errorf("stored entry = %s", entry)
	}
	fs := db.Findings("modferry.test/lib", []string{"v1.0.0", "v1.1.0", "v1.2.0"}, false)
	if len(fs) != 2 || fs[0].Version != "v1.0.0" || fs[1].Fixed != "v1.2.0" || fs[1].ID != "GO-2099-0001" {
		t.Errorf("Findings = %+v", fs)
	}

	if _, err := FromModuleZip(testZip(t, testVersion, map[string]string{"GO-2099-0002.json": entryText}), testVersion, when); !errors.Is(err, ErrInvalid) {
		t.Errorf("an entry under another ID's name: %v", err)
	}
	if _, err := FromModuleZip(testZip(t, testVersion, nil), testVersion, when); !errors.Is(err, ErrInvalid) {
		t.Errorf("a zip without entries: %v", err)
	}
}

func TestCheck(t *testing.T) {
	files, err := testDB(t, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)).Files()
	if err != nil {
		t.Fatal(err)
	}
	check := func(files map[string][]byte) error {
		var names []string
		for n := range files {
			names = append(names, n)
		}
		_, err := Check(names, func(n string) ([]byte, error) { return files[n], nil })
		return err
	}
	if err := check(files); err != nil {
		t.Fatalf("Check of a converted database: %v", err)
	}
	for name, mutate := range map[string]func(map[string][]byte){
		"not JSON":    func(f map[string][]byte) { f["ID/GO-2099-0001.json"] = []byte("not json") },
		"ID mismatch": func(f map[string][]byte) { f["ID/GO-2099-0002.json"] = f["ID/GO-2099-0001.json"] },
		"bad ecosystem": func(f map[string][]byte) {
			f["ID/GO-2099-0001.json"] = bytes.Replace(f["ID/GO-2099-0001.json"], []byte(`"Go"`), []byte(`"npm"`), 1)
		},
		"bad version": func(f map[string][]byte) {
			f["ID/GO-2099-0001.json"] = bytes.Replace(f["ID/GO-2099-0001.json"], []byte(`"1.2.0"`), []byte(`"one"`), 1)
		},
		"index hides entry": func(f map[string][]byte) { f[ModulesIndex] = []byte("[]") },
		"missing index":     func(f map[string][]byte) { delete(f, VulnsIndex) },
		"unknown file":      func(f map[string][]byte) { f["index/extra.json"] = []byte("{}") },
		"no modified time": func(f map[string][]byte) {
			f["ID/GO-2099-0001.json"] = bytes.Replace(f["ID/GO-2099-0001.json"], []byte(`"2024-07-01T00:00:00Z"`), []byte(`"0001-01-01T00:00:00Z"`), 1)
		},
		"path in ID": func(f map[string][]byte) { f["ID/../x.json"] = []byte("{}") },
		"entry of no module": func(f map[string][]byte) {
			f["ID/GO-2099-0001.json"] = bytes.Replace(f["ID/GO-2099-0001.json"], []byte(`"modferry.test/lib"`), []byte(`"not a path!"`), 1)
		},
	} {
		c := map[string][]byte{}
		for k, v := range files {
			c[k] = v
		}
		mutate(c)
		if err := check(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Check = %v, want ErrInvalid", name, err)
		}
	}
}

func TestInstallServe(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, st); !errors.Is(err, ErrNone) {
		t.Errorf("Load of an empty store: %v", err)
	}
	newer := testDB(t, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	older := testDB(t, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	for _, step := range []struct {
		db   *DB
		want bool
	}{{older, true}, {newer, true}, {older, false}, {newer, false}} {
		got, err := Install(ctx, st, step.db)
		if err != nil || got != step.want {
			t.Fatalf("Install(%v) = %v, %v; want %v", step.db.Modified, got, err, step.want)
		}
	}
	if m, err := Modified(ctx, st); err != nil || !m.Equal(newer.Modified) {
		t.Errorf("Modified = %v, %v; want %v", m, err, newer.Modified)
	}
	// The older copy is gone (a disk store may keep its empty directories).
	if n := countFiles(ctx, t, st, Root+"/20240601T000000.000000000Z"); n != 0 {
		t.Errorf("the replaced copy still holds %d files", n)
	}
	if n := countFiles(ctx, t, st, Root+"/20240701T000000.000000000Z"); n != 4 {
		t.Errorf("the current copy holds %d files, want 4", n)
	}
	db, err := Load(ctx, st)
	if err != nil || db.Len() != 1 {
		t.Fatalf("Load = %v, %v", db, err)
	}

	srv := httptest.NewServer(http.StripPrefix("/vulndb", Handler(st)))
	defer srv.Close()
	resp, err := http.Head(srv.URL + "/vulndb/index/modules.json.gz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD modules.json.gz: %v %v", resp, err)
	}
	resp, err = http.Get(srv.URL + "/vulndb/ID/GO-2099-0001.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	resp.Body.Close()
	files, _ := newer.Files()
	if !bytes.Equal(got, files["ID/GO-2099-0001.json"]) || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("served entry = %s (Content-Encoding %q)", got, resp.Header.Get("Content-Encoding"))
	}
	// Served twice (the second from the cache), the same.
	for range 2 {
		resp, err := http.Get(srv.URL + "/vulndb/index/modules.json.gz")
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		resp.Body.Close()
		if !bytes.Equal(got, files[ModulesIndex]) {
			t.Errorf("served modules index = %s", got)
		}
	}
	for _, p := range []string{"/vulndb/ID/GO-2099-0002.json", "/vulndb/current", "/vulndb/index/db.json.gz.gz", "/vulndb/../download/x"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}

func countFiles(ctx context.Context, t *testing.T, st store.Store, dir string) int {
	t.Helper()
	names, err := st.List(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if sub, ok := strings.CutSuffix(name, "/"); ok {
			n += countFiles(ctx, t, st, dir+"/"+sub)
		} else {
			n++
		}
	}
	return n
}
