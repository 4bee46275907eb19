package storedoc_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/memzip"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/sbom"
	"github.com/modferry/modferry/internal/sbom/sbomtest"
	"github.com/modferry/modferry/internal/sbom/storedoc"
	"github.com/modferry/modferry/internal/store"
)

const mit = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`

var (
	a      = module.Version{Path: "modferry.test/a", Version: "v1.0.0"}
	b      = module.Version{Path: "modferry.test/b", Version: "v1.0.0"}
	c      = module.Version{Path: "modferry.test/c", Version: "v1.0.0"}
	bOld   = module.Version{Path: "modferry.test/b", Version: "v0.9.0"}
	ctx    = context.Background()
	gomods = map[module.Version]string{
		a:    "module modferry.test/a\n\ngo 1.21\n\nrequire (\n\tmodferry.test/b v1.0.0\n\tmodferry.test/b v0.9.0\n)\n",
		b:    "module modferry.test/b\n\ngo 1.21\n",
		bOld: "module modferry.test/b\n\ngo 1.21\n",
		c:    "module modferry.test/c\n\ngo 1.21\n",
	}
)

// newStore holds a (MIT licence) requiring b and the go.mod-only b v0.9.0,
// b, and c that nothing requires; and the SBOMs of two bundles exporting
// project "app" (the newer one requiring a) and module argument c.
func newStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo := &modules.Repo{Store: st}
	for v, mod := range gomods {
		f := modules.Files{Mod: strings.NewReader(mod)}
		if v != bOld {
			files := map[string][]byte{"go.mod": []byte(mod), "x.go": []byte("package x\n")}
			if v == a {
				files["LICENSE"] = []byte(mit)
			}
			z, err := memzip.Bytes(v, files)
			if err != nil {
				t.Fatal(err)
			}
			f.Zip = bytes.NewReader(z)
		}
		if err := repo.Add(ctx, v, f); err != nil {
			t.Fatal(err)
		}
	}
	keep := func(digest string, created time.Time, roots []sbom.Root) {
		data, err := sbom.CycloneDX(sbom.Doc{Name: digest, Created: created, Tool: "modferry test", Roots: roots,
			Modules: []sbom.Module{{Version: a, ZipHash: "h1:x", ModHash: "h1:y"}, {Version: c, ZipHash: "h1:x", ModHash: "h1:y"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, importer.SBOMName(digest, bundle.SBOMCycloneDX), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	keep(strings.Repeat("1", 64), time.Unix(1700000000, 0), []sbom.Root{{Name: "app"}})
	keep(strings.Repeat("2", 64), time.Unix(1800000000, 0), []sbom.Root{{Name: "app", Requires: []module.Version{a}}, {Name: c.String(), Module: true, Requires: []module.Version{c}}})
	return st
}

func TestBuild(t *testing.T) {
	st := newStore(t)
	doc, err := storedoc.Build(ctx, st, storedoc.Options{Tool: "modferry test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Roots) != 2 || doc.Roots[0].Name != "app" || !slices.Equal(doc.Roots[0].Requires, []module.Version{a}) || !doc.Roots[1].Module {
		t.Errorf("roots (the newest bundle's app): %+v", doc.Roots)
	}
	var got []string
	for _, m := range doc.Modules {
		got = append(got, m.Version.String())
		switch m.Version {
		case a:
			if !slices.Equal(m.Licenses, []string{"MIT"}) || !slices.Equal(m.Requires, []module.Version{b, bOld}) || len(m.ZipSHA256) != 64 || !strings.HasPrefix(m.ZipHash, "h1:") {
				t.Errorf("a: %+v", m)
			}
		case bOld:
			if !m.GoModOnly() || m.ZipSHA256 != "" {
				t.Errorf("go.mod-only b: %+v", m)
			}
		}
	}
	if want := []string{a.String(), bOld.String(), b.String(), c.String()}; !slices.Equal(got, want) {
		t.Errorf("modules %v, want %v", got, want)
	}
	data, err := sbom.CycloneDX(doc)
	if err != nil {
		t.Fatal(err)
	}
	sbomtest.CycloneDX(t, data)

	doc, err = storedoc.Build(ctx, st, storedoc.Options{Project: "app"})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, m := range doc.Modules {
		got = append(got, m.Version.String())
	}
	if want := []string{a.String(), bOld.String(), b.String()}; !slices.Equal(got, want) || len(doc.Roots) != 1 {
		t.Errorf("project app: modules %v, want %v; roots %+v", got, want, doc.Roots)
	}
	data, err = sbom.SPDX(doc)
	if err != nil {
		t.Fatal(err)
	}
	sbomtest.SPDX(t, data)

	if _, err := storedoc.Build(ctx, st, storedoc.Options{Project: "nosuch"}); !errors.Is(err, storedoc.ErrUnknownProject) || !strings.Contains(err.Error(), "app") {
		t.Errorf("unknown project: %v", err)
	}
}

// TestProjectAfterDelta: the newest bundle of a project is a delta that
// carried only c. Its SBOM records the project's whole requirements and
// build list, so the project's document is every build-list version the
// store holds (a, b and c; not the go.mod-only b v0.9.0 minimal version
// selection passes over), not only what the delta carried.
func TestProjectAfterDelta(t *testing.T) {
	st := newStore(t)
	data, err := sbom.CycloneDX(sbom.Doc{Name: "delta", Created: time.Unix(1900000000, 0), Tool: "modferry test",
		Roots:   []sbom.Root{{Name: "app", Requires: []module.Version{a, c}, BuildList: []module.Version{a, b, c}}},
		Modules: []sbom.Module{{Version: c, ZipHash: "h1:x", ModHash: "h1:y"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, importer.SBOMName(strings.Repeat("3", 64), bundle.SBOMCycloneDX), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	doc, err := storedoc.Build(ctx, st, storedoc.Options{Project: "app"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range doc.Modules {
		got = append(got, m.Version.String())
	}
	if want := []string{a.String(), b.String(), c.String()}; !slices.Equal(got, want) {
		t.Errorf("project app after a delta: modules %v, want %v", got, want)
	}
	if len(doc.Roots) != 1 || !slices.Equal(doc.Roots[0].Requires, []module.Version{a, c}) {
		t.Errorf("roots %+v; want app requiring a and c", doc.Roots)
	}
}
