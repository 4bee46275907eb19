// Package bundletest writes small signed bundles for tests of the code
// that reads them (importer, CLI, crash and tamper tests).
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

// Write writes a bundle of mods to file, signed with key, and returns its
// manifest.
func Write(t testing.TB, file string, mods []Module, key sign.PrivateKey) *bundle.Manifest {
	t.Helper()
	m := &bundle.Manifest{FormatVersion: bundle.FormatVersion, Created: time.Unix(1700000000, 0).UTC(), ToolVersion: "test"}
	contents := map[string][]byte{}
	add := func(v module.Version, k modfiles.Kind, data []byte) {
		name, err := bundle.DownloadPath(v, k)
		if err != nil {
			t.Fatal(err)
		}
		f, err := bundle.HashReader(name, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, f)
		contents[name] = data
	}
	for _, mod := range mods {
		v := module.Version{Path: mod.Path, Version: mod.Version}
		gomod := []byte("module " + mod.Path + "\n\ngo 1.21\n")
		if g, ok := mod.Files["go.mod"]; ok {
			gomod = g
		}
		bm := bundle.Module{Path: mod.Path, Version: mod.Version, ModHash: modfiles.HashMod(gomod)}
		add(v, modfiles.Info, fmt.Appendf(nil, `{"Version":%q,"Time":"2024-01-01T00:00:00Z"}`+"\n", mod.Version))
		add(v, modfiles.Mod, gomod)
		if mod.Files != nil {
			files := maps.Clone(mod.Files)
			if _, ok := files["go.mod"]; !ok {
				files["go.mod"] = gomod
			}
			var buf bytes.Buffer
			if err := memzip.Create(&buf, v, files); err != nil {
				t.Fatal(err)
			}
			tmp, err := os.CreateTemp(t.TempDir(), "zip")
			if err != nil {
				t.Fatal(err)
			}
			tmp.Write(buf.Bytes())
			tmp.Close()
			h, err := modfiles.HashZip(tmp.Name())
			if err != nil {
				t.Fatal(err)
			}
			bm.ZipHash = h
			add(v, modfiles.Zip, buf.Bytes())
		}
		m.Modules = append(m.Modules, bm)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sign.Sign(key, data)
	if err != nil {
		t.Fatal(err)
	}
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
	err = bundle.Write(context.Background(), out, canon, bundle.Signatures{Minisign: sig}, func(name string) (io.ReadCloser, error) {
		d, ok := contents[name]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return io.NopCloser(bytes.NewReader(d)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return canon
}
