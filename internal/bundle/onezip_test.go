package bundle_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/onezip"
)

// TestZipWithDataInFront: a signed bundle whose zip is JUNK + decoy.zip +
// real.zip, with the manifest's h1: hash of the real zip (which is what
// Go's zip reader sees and hashes), is refused.
func TestZipWithDataInFront(t *testing.T) {
	k := newTestKey(t)
	base := sampleSource(t)
	s := bundletest.NewSource(new(bundle.Manifest))
	*s.Manifest = *base.Manifest
	s.Manifest.Files = nil
	var zipName string
	for _, f := range base.Manifest.Files {
		data := base.Contents[f.Path]
		if zipName == "" && strings.HasSuffix(f.Path, ".zip") {
			zipName = f.Path
			mem, _ := bundle.ParseMemberPath(f.Path)
			var decoy bytes.Buffer
			zw := zip.NewWriter(&decoy)
			w, _ := zw.Create(mem.Module.Path + "@" + mem.Module.Version + "/evil.go")
			w.Write([]byte("package evil\n"))
			zw.Close()
			attack := append(append(bytes.Repeat([]byte("JUNK"), 64), decoy.Bytes()...), data...)
			if bundletest.ZipHash(t, attack) != bundletest.ZipHash(t, data) {
				t.Fatal("the construction no longer hashes like the real zip; the test needs another")
			}
			data = attack
		}
		s.Add(t, f.Path, data)
	}
	b := compress(t, rawTar(t, entries(t, s, k)))
	_, _, err := readBundle(t, b, k)
	var me *bundle.MemberError
	if !errors.Is(err, bundle.ErrBadZip) || !errors.Is(err, onezip.ErrNotOneZip) || !errors.As(err, &me) || me.Path != zipName {
		t.Fatalf("err = %v, want ErrBadZip and onezip.ErrNotOneZip naming %s", err, zipName)
	}
}
