package bundle_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/vulndb"
)

const testOSV = `{"id":"GO-2099-0001","modified":"2024-07-01T00:00:00Z","published":"2024-06-01T00:00:00Z",
"summary":"synthetic","affected":[{"package":{"name":"example.com/Hello","ecosystem":"Go"},
"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.0"}]}]}]}`

// addVulnDB adds a one-entry vulnerability database to s; mutate may
// change its files (by name inside vulndb/) before they are added.
func addVulnDB(t *testing.T, s *bundletest.Source, mutate func(files map[string][]byte)) {
	t.Helper()
	v := module.Version{Path: "example.com/vulndb", Version: "v0.0.0-20240701000000-cccccccccccc"}
	zipFile := filepath.Join(t.TempDir(), "v.zip")
	if err := os.WriteFile(zipFile, bundletest.Zip(t, v, map[string][]byte{"go.mod": []byte("module example.com/vulndb\n"), "data/osv/GO-2099-0001.json": []byte(testOSV)}), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.FromModuleZip(zipFile, v, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := db.Files()
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(files)
	}
	for name, data := range files {
		s.Add(t, bundle.VulnDBPrefix+name, data)
	}
	s.Manifest.VulnDB = &bundle.VulnDBInfo{Source: v.String(), Modified: db.Modified, Entries: db.Len()}
}

func TestVulnDBMembers(t *testing.T) {
	k := newTestKey(t)
	s := sampleSource(t)
	addVulnDB(t, s, nil)
	m, st, err := readBundle(t, writeBundle(t, s, k), k)
	if err != nil {
		t.Fatalf("reading a bundle with a vulnerability database: %v", err)
	}
	if m.VulnDB == nil || m.VulnDB.Entries != 1 {
		t.Errorf("manifest vulndb = %+v", m.VulnDB)
	}
	if p, err := st.LocalPath("vulndb/ID/GO-2099-0001.json"); err != nil {
		t.Error(err)
	} else if data, _ := os.ReadFile(p); !bytes.Contains(data, []byte(`"GO-2099-0001"`)) {
		t.Errorf("staged entry = %s", data)
	}
	// vulndb members come last.
	files := filesOf(m)
	if last := files[len(files)-1]; last[:len(bundle.VulnDBPrefix)] != bundle.VulnDBPrefix {
		t.Errorf("last member %s, want a vulndb/ member", last)
	}

	// Members hashed correctly in a signed manifest, but not a valid
	// database: each is refused, naming the member.
	for name, tc := range map[string]struct {
		mutate func(map[string][]byte)
		member string
	}{
		"not OSV": {func(f map[string][]byte) {
			f["ID/GO-2099-0001.json"] = []byte(`{"id":"GO-2099-0001","modified":"2024-07-01T00:00:00Z","affected":"everything"}`)
		}, "vulndb/ID/GO-2099-0001.json"},
		"ID differs from its name": {func(f map[string][]byte) {
			f["ID/GO-2099-0002.json"] = f["ID/GO-2099-0001.json"]
		}, "vulndb/ID/GO-2099-0002.json"},
		"index hides the entry": {func(f map[string][]byte) {
			f[vulndb.ModulesIndex] = []byte("[]")
		}, bundle.VulnDBPrefix},
	} {
		s := sampleSource(t)
		addVulnDB(t, s, tc.mutate)
		_, _, err := readBundle(t, writeBundle(t, s, k), k)
		var me *bundle.MemberError
		if !errors.Is(err, bundle.ErrBadVulnDB) || !errors.As(err, &me) || me.Path != tc.member {
			t.Errorf("%s: Read = %v; want ErrBadVulnDB naming %s", name, err, tc.member)
		}
	}

	// A manifest describing a database the bundle does not hold.
	s = sampleSource(t)
	s.Manifest.VulnDB = &bundle.VulnDBInfo{Source: "x@v1.0.0", Modified: time.Now(), Entries: 1}
	if _, _, err := readBundle(t, writeBundle(t, s, k), k); !errors.Is(err, bundle.ErrBadVulnDB) {
		t.Errorf("vulndb description without members: %v", err)
	}
}

func TestVulnDBNames(t *testing.T) {
	for _, name := range []string{"vulndb/index/db.json", "vulndb/index/modules.json", "vulndb/index/vulns.json", "vulndb/ID/GO-2021-0113.json"} {
		if m, err := bundle.ParseMemberPath(name); err != nil || m.Kind != bundle.KindVulnDB {
			t.Errorf("ParseMemberPath(%q) = %+v, %v", name, m, err)
		}
	}
	for _, name := range []string{"vulndb/index/other.json", "vulndb/ID/GO-2021-0113.json.gz", "vulndb/ID/sub/x.json", "vulndb/current", "vulndb/ID/.json", "vulndb/db.json"} {
		if _, err := bundle.ParseMemberPath(name); !errors.Is(err, bundle.ErrUnsafePath) {
			t.Errorf("ParseMemberPath(%q) = %v, want ErrUnsafePath", name, err)
		}
	}
}
