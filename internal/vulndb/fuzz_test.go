package vulndb

import (
	"bytes"
	"testing"
)

// FuzzCheck feeds Check a database of one entry file and the indexes its
// converted form would have: Check must not panic, and whatever it
// accepts must give back exactly the files it was given.
func FuzzCheck(f *testing.F) {
	f.Add("GO-2099-0001", []byte(entryText), false)
	f.Add("GO-2099-0001", []byte(`{"id":"GO-2099-0001","modified":"2024-07-01T00:00:00Z","affected":[{"package":{"name":"stdlib","ecosystem":"Go"}}]}`), true)
	f.Add("x", []byte(`{"id":"x","modified":"2024-07-01T00:00:00Z","withdrawn":"2024-08-01T00:00:00Z"}`), true)
	f.Fuzz(func(t *testing.T, id string, entry []byte, emptyIndexes bool) {
		files := map[string][]byte{
			EntryName(id): entry,
			DBIndex:       []byte(`{"modified":"2024-07-01T00:00:00Z"}`),
			ModulesIndex:  []byte(`[]`),
			VulnsIndex:    []byte(`[]`),
		}
		if !emptyIndexes {
			// The indexes the entry alone would give, if it parses.
			if e, err := ParseEntry(id, entry); err == nil {
				db := &DB{}
				db.add(e, entry)
				idx, err := db.indexes()
				if err != nil {
					t.Fatal(err)
				}
				for name, data := range idx {
					files[name] = data
				}
			}
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		db, err := Check(names, func(n string) ([]byte, error) { return files[n], nil })
		if err != nil {
			return
		}
		got, err := db.Files()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(files) {
			t.Fatalf("Check accepted %d files but gives back %d", len(files), len(got))
		}
		for name, data := range files {
			if !bytes.Equal(got[name], data) {
				t.Fatalf("%s: given %q, gives back %q", name, data, got[name])
			}
		}
	})
}
