package export

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/modfiles"
)

// TestCaptureSumDBDisagrees captures proofs from a local checksum database
// for a module version carried with the hash the database holds, and
// with another one: the second is a *SumDBDisagreesError that matches
// checksumdb.ErrSecurity by type, wrapping the database's mismatch.
// fillerHash is the hash the test checksum database logs for s (see
// checksumdbtest: a filler.test module's zip is hashed as its path, its
// go.mod as path + "/go.mod"), written as go.sum writes an h1: hash.
func fillerHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "h1:" + base64.StdEncoding.EncodeToString(h[:])
}

func TestCaptureSumDBDisagrees(t *testing.T) {
	db := checksumdbtest.New(t, "sum.test", t.TempDir(), 0)
	cfg := &sumdbConfig{name: db.Name, key: db.Key, url: db.URL}
	src := newSumDBSource(context.Background(), cfg, Options{})
	defer src.close()
	// The test database logs filler.test modules with these hashes.
	const p = "filler.test/m"
	capture := func(modHash string) error {
		m := &bundle.Manifest{Modules: []bundle.Module{{Path: p, Version: "v1.0.0", ZipHash: fillerHash(p), ModHash: modHash}}}
		return captureSumDB(context.Background(), src, Options{}, m, &spool{dir: t.TempDir(), sources: map[string]string{}})
	}
	if err := capture(fillerHash(p + "/go.mod")); err != nil {
		t.Fatalf("the database's own hashes: %v", err)
	}
	err := capture(modfiles.HashMod([]byte("module " + p + "\n")))
	var de *SumDBDisagreesError
	var me *checksumdb.MismatchError
	switch {
	case !errors.As(err, &de):
		t.Fatalf("got %v, want a *SumDBDisagreesError", err)
	case !errors.Is(err, checksumdb.ErrSecurity):
		t.Errorf("%v does not match checksumdb.ErrSecurity", err)
	case !errors.As(err, &me) || me.Module.Path != p || !me.GoMod:
		t.Errorf("%v does not wrap the go.mod *checksumdb.MismatchError of %s", err, p)
	case de.SumDB != db.Name || de.URL != db.URL || de.VulnDB:
		t.Errorf("error fields %+v, want database %s at %s, not the vulnerability database", de, db.Name, db.URL)
	case !strings.HasPrefix(err.Error(), "SECURITY ERROR: the checksum database sum.test ("):
		t.Errorf("message %q", err)
	}
}

func TestSecurityErrorsMatchErrSecurity(t *testing.T) {
	up := bundle.Module{Path: "example.com/m", Version: "v1.0.0", ZipHash: "h1:zipA", ModHash: "h1:modA"}
	inv := bundle.Module{Path: "example.com/m", Version: "v1.0.0", ZipHash: "h1:zipB", ModHash: "h1:modA"}
	for _, err := range []error{
		&InventoryMismatchError{Upstream: up, Inventory: inv},
		&SumDBDisagreesError{SumDB: "sum.golang.org", URL: "https://sum.golang.org", VulnDB: true, Err: errors.New("x")},
	} {
		if !errors.Is(err, checksumdb.ErrSecurity) {
			t.Errorf("%v does not match checksumdb.ErrSecurity", err)
		}
		if errors.Is(err, bundle.ErrInvalid) {
			t.Errorf("%v matches bundle.ErrInvalid", err)
		}
	}
}

// TestHeldBy: a version the inventory holds with the upstream's hashes is
// left out (unless only the upstream has its zip); with other hashes it is
// an *InventoryMismatchError matching checksumdb.ErrSecurity.
func TestHeldBy(t *testing.T) {
	mod := func(zip, gomod string) bundle.Module {
		return bundle.Module{Path: "example.com/m", Version: "v1.0.0", ZipHash: zip, ModHash: gomod}
	}
	inv := &inventory.Inventory{Modules: []bundle.Module{mod("h1:zip", "h1:mod")}}
	modOnly := &inventory.Inventory{Modules: []bundle.Module{mod("", "h1:mod")}}
	for _, tc := range []struct {
		since    *inventory.Inventory
		upstream bundle.Module
		held     bool
		mismatch bool
	}{
		{nil, mod("h1:zip", "h1:mod"), false, false},
		{&inventory.Inventory{}, mod("h1:zip", "h1:mod"), false, false},
		{inv, mod("h1:zip", "h1:mod"), true, false},
		{inv, mod("", "h1:mod"), true, false},
		{modOnly, mod("h1:zip", "h1:mod"), false, false},
		{modOnly, mod("", "h1:mod"), true, false},
		{inv, mod("h1:other", "h1:mod"), false, true},
		{inv, mod("h1:zip", "h1:other"), false, true},
		{modOnly, mod("h1:zip", "h1:other"), false, true},
	} {
		held, err := heldBy(tc.since, tc.upstream)
		var ie *InventoryMismatchError
		switch {
		case tc.mismatch && (!errors.As(err, &ie) || ie.Upstream != tc.upstream || !errors.Is(err, checksumdb.ErrSecurity)):
			t.Errorf("heldBy(%v, %v) = %v, want an *InventoryMismatchError matching ErrSecurity", tc.since, tc.upstream, err)
		case tc.mismatch && !strings.HasPrefix(err.Error(), "SECURITY: example.com/m@v1.0.0 differs between the upstream"):
			t.Errorf("message %q", err)
		case !tc.mismatch && (err != nil || held != tc.held):
			t.Errorf("heldBy(%v, %v) = %v, %v; want %v", tc.since, tc.upstream, held, err, tc.held)
		}
	}
}
