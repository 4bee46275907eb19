package bundle_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
)

// TestCorruptMemberNamed: a member whose content differs from the
// manifest in one byte is refused as a hash mismatch naming it, whether
// the check workers get it in memory or from its staged file, and for
// every kind of member (.mod, .info, module zip, proofs, SBOMs).
func TestCorruptMemberNamed(t *testing.T) {
	k := newTestKey(t)
	s := sampleSource(t)
	es := entries(t, s, k)
	for _, fromFiles := range []bool{false, true} {
		if fromFiles {
			restore := bundle.SetZipMemory(0)
			defer restore()
		}
		for i := 2; i < len(es); i++ {
			if len(es[i].data) == 0 {
				continue
			}
			bad := append([]entry(nil), es...)
			data := bytes.Clone(es[i].data)
			data[len(data)/2] ^= 0x01
			bad[i].data = data
			_, _, err := readBundle(t, compress(t, rawTar(t, bad)), k)
			var me *bundle.MemberError
			if !errors.Is(err, bundle.ErrHashMismatch) || !errors.As(err, &me) || me.Path != es[i].name {
				t.Errorf("from files %v: %s corrupted: error %v, want a hash mismatch naming it", fromFiles, es[i].name, err)
			}
		}
	}
}
