// Package bundletest writes small signed bundles for tests: of package
// bundle itself and of the code that reads bundles (importer, CLI, crash
// and tamper tests). It is the one home of these helpers.
package bundletest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/memzip"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/sign"
)

// Module is a module version to put in a bundle. Files are the zip's
// contents (paths relative to the module root, go.mod added if absent);
// nil Files bundles only the .mod and .info.
type Module struct {
	Path, Version string
	Files         map[string][]byte
	NoInfo        bool // leave out the .info
}

// RandomModules returns n modules "modferry.test/rand/mNN" at v1.0.0, each
// with a go.mod and a file of size random (incompressible) bytes.
func RandomModules(seed uint64, n, size int) []Module {
	r := rand.New(rand.NewPCG(seed, seed))
	mods := make([]Module, n)
	for i := range mods {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(r.UintN(256))
		}
		p := fmt.Sprintf("modferry.test/rand/m%02d", i)
		mods[i] = Module{Path: p, Version: "v1.0.0", Files: map[string][]byte{"data.bin": data}}
	}
	return mods
}

// NewKey returns a fresh signing key with its public half.
func NewKey(t testing.TB) (sign.PrivateKey, sign.PublicKey) {
	t.Helper()
	priv, pub, err := sign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.ParsePrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sign.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

// Sign returns the minisign signature of m's encoding by key.
func Sign(t testing.TB, key sign.PrivateKey, m *bundle.Manifest) []byte {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sign.Sign(key, data)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// Verifier returns a bundle.ReadOptions.Verify that accepts a minisign
// signature by any of keys.
func Verifier(keys ...sign.PublicKey) func(manifest []byte, sigs bundle.Signatures) error {
	return func(manifest []byte, sigs bundle.Signatures) error {
		_, err := sign.Verify(keys, manifest, sigs.Minisign)
		return err
	}
}

// Zip returns the module zip of v holding files.
func Zip(t testing.TB, v module.Version, files map[string][]byte) []byte {
	t.Helper()
	b, err := memzip.Bytes(v, files)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ZipHash returns the go.sum hash ("h1:…") of a module zip.
func ZipHash(t testing.TB, zipData []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(f, zipData, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := modfiles.HashZip(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Source is what a bundle is written from: a manifest (unsigned) and the
// contents of every file it lists.
type Source struct {
	Manifest *bundle.Manifest
	Contents map[string][]byte
}

// NewSource returns a Source with manifest m, to which Add and AddModule
// add files and modules.
func NewSource(m *bundle.Manifest) *Source {
	return &Source{Manifest: m, Contents: map[string][]byte{}}
}

// Open opens a file of s, as bundle.Write reads it.
func (s *Source) Open(name string) (io.ReadCloser, error) {
	data, ok := s.Contents[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Add adds a member with the given content to s and its manifest.
func (s *Source) Add(t testing.TB, name string, data []byte) {
	t.Helper()
	f, err := bundle.HashReader(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s.Manifest.Files = append(s.Manifest.Files, f)
	s.Contents[name] = data
}

// AddModule adds mod's .mod, .info (unless NoInfo) and, with Files, .zip,
// and its entry in the manifest's module list.
func (s *Source) AddModule(t testing.TB, mod Module) {
	t.Helper()
	v := module.Version{Path: mod.Path, Version: mod.Version}
	add := func(k modfiles.Kind, data []byte) {
		t.Helper()
		name, err := bundle.DownloadPath(v, k)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(t, name, data)
	}
	gomod := []byte("module " + mod.Path + "\n\ngo 1.21\n")
	if g, ok := mod.Files["go.mod"]; ok {
		gomod = g
	}
	bm := bundle.Module{Path: mod.Path, Version: mod.Version, ModHash: modfiles.HashMod(gomod)}
	add(modfiles.Mod, gomod)
	if !mod.NoInfo {
		add(modfiles.Info, fmt.Appendf(nil, `{"Version":%q,"Time":"2024-01-01T00:00:00Z"}`+"\n", mod.Version))
	}
	if mod.Files != nil {
		files := maps.Clone(mod.Files)
		if _, ok := files["go.mod"]; !ok {
			files["go.mod"] = gomod
		}
		z := Zip(t, v, files)
		bm.ZipHash = ZipHash(t, z)
		add(modfiles.Zip, z)
	}
	s.Manifest.Modules = append(s.Manifest.Modules, bm)
}

// Write writes a bundle of mods to file, signed with key, and returns its
// manifest.
func Write(t testing.TB, file string, mods []Module, key sign.PrivateKey) *bundle.Manifest {
	t.Helper()
	s := NewSource(&bundle.Manifest{FormatVersion: bundle.FormatVersion, Created: time.Unix(1700000000, 0).UTC(), ToolVersion: "test"})
	for _, mod := range mods {
		s.AddModule(t, mod)
	}
	data, err := s.Manifest.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig := Sign(t, key, s.Manifest)
	// Write in canonical member order.
	canon, err := bundle.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := bundle.Write(context.Background(), out, canon, bundle.Signatures{Minisign: sig}, s.Open); err != nil {
		t.Fatal(err)
	}
	return canon
}
