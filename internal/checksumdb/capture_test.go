package checksumdb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
)

func TestCaptureVerify(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	fx := fixtures(t)
	db.AddFiller(t, 300)
	for i, m := range fx {
		addHashes(t, db, m)
		db.AddFiller(t, i*7) // heads change between records
	}
	toolchain := ModuleHashes{Version: module.Version{Path: "golang.org/toolchain", Version: "v0.0.1-go1.27.3.linux-amd64"}, ZipHash: checksumdbtest.FakeHash("toolchain")}
	addHashes(t, db, toolchain)
	db.AddFiller(t, 45)
	mods := append(fx, toolchain)

	p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("proof: head size %d, %d files, %d bytes", p.Head.N, len(p.Files), p.Size())
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "tile/") {
			t.Logf("  %s (%d bytes)", path, len(p.Files[path]))
		}
	}
	h, err := Verify(p.Files, db.Name, db.Key, mods)
	if err != nil {
		t.Fatal(err)
	}
	if h.Tree != p.Head.Tree {
		t.Fatalf("Verify head %v, Capture head %v", h.Tree, p.Head.Tree)
	}

	// A mismatching hash stops the capture, naming the module.
	bad := append([]ModuleHashes(nil), mods...)
	bad[2].ZipHash = checksumdbtest.FakeHash("evil")
	_, err = Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: bad})
	var me *MismatchError
	if !errors.As(err, &me) || me.Module != bad[2].Version || !errors.Is(err, ErrSecurity) {
		t.Fatalf("Capture with bad hash: %v", err)
	}
	t.Logf("mismatch: %v", err)
	if _, err := Verify(p.Files, db.Name, db.Key, bad); !errors.As(err, &me) {
		t.Fatalf("Verify with bad hash: %v", err)
	}
}

func TestVerifyTamper(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	fx := fixtures(t)
	db.AddFiller(t, 300)
	for _, m := range fx {
		addHashes(t, db, m)
	}
	db.AddFiller(t, 20)
	p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: fx})
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := modfiles.LookupPath(fx[0].Version)
	var tile string
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "tile/8/0/") {
			tile = path
		}
	}
	cases := map[string]func(map[string][]byte){
		"lookup record": func(f map[string][]byte) {
			f[lk] = []byte(strings.Replace(string(f[lk]), fx[0].ZipHash, checksumdbtest.FakeHash("x"), 1))
		},
		"tile byte": func(f map[string][]byte) {
			d := append([]byte(nil), f[tile]...)
			d[len(d)-1] ^= 1
			f[tile] = d
		},
		"head signature": func(f map[string][]byte) {
			s := string(f["latest"])
			i := strings.LastIndex(s, " ")
			f["latest"] = []byte(s[:i+1] + "AAAA" + s[i+5:])
		},
		"missing tile": func(f map[string][]byte) { delete(f, tile) },
	}
	for name, tamper := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			files := make(map[string][]byte)
			for k, v := range p.Files {
				files[k] = v
			}
			tamper(files)
			_, err := Verify(files, db.Name, db.Key, fx)
			if err == nil {
				t.Fatal("Verify accepted a tampered proof")
			}
			var ie *IncompleteError
			if !errors.Is(err, ErrSecurity) && !errors.As(err, &ie) {
				t.Errorf("error does not match ErrSecurity: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}
