package checksumdb

import (
	"context"
	"slices"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/store"
)

// FuzzVerifyProof changes a real proof as a hostile or damaged bundle
// might (a file replaced, overwritten in part, removed, or one added) and
// checks the proof's consumers: Verify, and a store's ImportModules. Neither
// may panic; Verify may accept only the proof's own signed tree head (a
// changed note cannot verify), with every module's record proven, and an
// import it refuses leaves the store as it was.
func FuzzVerifyProof(f *testing.F) {
	db, fx := recordFixtures(f, func(i int) int { return i * 5 })
	p, err := Capture(context.Background(), CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: fx})
	if err != nil {
		f.Fatal(err)
	}
	paths := p.Paths()
	f.Add(uint16(0), byte(0), uint32(0), []byte("latest"))
	for i, path := range paths {
		f.Add(uint16(i), byte(1), uint32(len(p.Files[path])/2), []byte{0xff})
	}
	f.Add(uint16(1), byte(2), uint32(0), []byte(nil))
	f.Add(uint16(0), byte(3), uint32(0), []byte("tile/8/0/x001"))
	f.Fuzz(func(t *testing.T, which uint16, how byte, at uint32, data []byte) {
		files := make(map[string][]byte, len(p.Files)+1)
		for k, v := range p.Files {
			files[k] = v
		}
		path := paths[int(which)%len(paths)]
		switch how % 4 {
		case 0: // replaced
			files[path] = data
		case 1: // overwritten in part
			b := slices.Clone(files[path])
			if len(b) > 0 {
				copy(b[int(at)%len(b):], data)
			}
			files[path] = b
		case 2: // removed
			delete(files, path)
		case 3: // one more file, named by data
			files[string(data)] = []byte("x")
		}
		h, err := Verify(files, db.Name, db.Key, fx)
		if err == nil && (h.N != p.Head.N || h.Hash != p.Head.Hash) {
			t.Fatalf("accepted a head other than the proof's own: %d %v", h.N, h.Hash)
		}
		// The same proof imported into an empty store's database.
		st := store.NewMem()
		sdb, err := NewDB(st, db.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sdb.ImportModules(context.Background(), files, fx); err != nil {
			if names, _ := st.List(context.Background(), ""); len(names) > 0 {
				t.Fatalf("a refused import left %v in the store", names)
			}
			return
		}
		for _, m := range fx {
			if _, err := sdb.Lookup(context.Background(), module.Version{Path: m.Version.Path, Version: m.Version.Version}); err != nil {
				t.Fatalf("accepted import serves no record for %v: %v", m.Version, err)
			}
		}
	})
}
