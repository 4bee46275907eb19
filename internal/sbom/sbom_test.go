package sbom_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/licensecheck"
	spdxjson "github.com/spdx/tools-golang/json"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/sbom"
	"github.com/modferry/modferry/internal/sbom/sbomtest"
)

func TestPURL(t *testing.T) {
	for _, c := range []struct {
		v    module.Version
		want string
	}{
		{module.Version{Path: "github.com/BurntSushi/toml", Version: "v1.3.2"}, "pkg:golang/github.com/BurntSushi/toml@v1.3.2"},
		{module.Version{Path: "github.com/go-ole/go-ole", Version: "v3.2.0+incompatible"}, "pkg:golang/github.com/go-ole/go-ole@v3.2.0%2Bincompatible"},
		{module.Version{Path: "gopkg.in/yaml.v3", Version: "v3.0.1"}, "pkg:golang/gopkg.in/yaml.v3@v3.0.1"},
		{module.Version{Path: "example.com", Version: "v0.0.0-20200101000000-abcdefabcdef"}, "pkg:golang/example.com@v0.0.0-20200101000000-abcdefabcdef"},
	} {
		if got := sbom.PURL(c.v); got != c.want {
			t.Errorf("PURL(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}

const hostile = `<script>alert("x")</script> & </title><img src=x onerror=alert(1)>`

var (
	upper  = module.Version{Path: "github.com/Sirupsen/logrus", Version: "v1.0.0"}
	lower  = module.Version{Path: "github.com/sirupsen/logrus", Version: "v1.0.0"}
	incomp = module.Version{Path: "github.com/go-ole/go-ole", Version: "v3.2.0+incompatible"}
	modOld = module.Version{Path: "github.com/sirupsen/logrus", Version: "v0.9.0"}
	// notListed is required but not in the document (pruned away).
	notListed = module.Version{Path: "example.com/pruned", Version: "v1.0.0"}
)

func testDoc() sbom.Doc {
	return sbom.Doc{Name: "deps.tar.zst", Created: time.Unix(1700000000, 0), Tool: "modferry v1.0.0",
		Roots: []sbom.Root{
			{Name: "/src/" + hostile, Requires: []module.Version{upper, lower, modOld, notListed}},
			{Name: "github.com/go-ole/go-ole@v3.2.0+incompatible", Module: true, Requires: []module.Version{incomp}},
		},
		Modules: []sbom.Module{
			{Version: incomp, ZipSHA256: strings.Repeat("cd", 32), ZipHash: "h1:i=", ModHash: "h1:im=", Licenses: []string{"GooglePatentClause", "MIT"}},
			{Version: upper, ZipSHA256: strings.Repeat("ab", 32), ZipHash: "h1:u=", ModHash: "h1:um=", Licenses: []string{"MIT"}, Requires: []module.Version{incomp}},
			{Version: modOld, ModHash: "h1:old="},
			{Version: lower, ZipSHA256: strings.Repeat("ef", 32), ZipHash: "h1:l=", ModHash: "h1:lm="},
		},
	}
}

func TestCycloneDX(t *testing.T) {
	data, err := sbom.CycloneDX(testDoc())
	if err != nil {
		t.Fatal(err)
	}
	sbomtest.CycloneDX(t, data)
	checkEscaped(t, data)
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Components == nil || bom.Dependencies == nil {
		t.Fatalf("spec %v: %s", bom.SpecVersion, data)
	}
	comps := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		if _, dup := comps[c.BOMRef]; dup {
			t.Errorf("bom-ref %s twice", c.BOMRef)
		}
		comps[c.BOMRef] = c
	}
	if len(comps) != 6 {
		t.Fatalf("%d components, want 2 roots and 4 modules", len(comps))
	}
	for _, v := range []module.Version{upper, lower, incomp} {
		c, ok := comps[sbom.PURL(v)]
		if !ok || c.PackageURL != sbom.PURL(v) || c.Scope != cdx.ScopeRequired || c.Supplier == nil || c.Supplier.Name != "NOASSERTION" {
			t.Errorf("%v: %+v", v, c)
		}
	}
	if c := comps[sbom.PURL(upper)]; c.Licenses == nil || (*c.Licenses)[0].License.ID != "MIT" {
		t.Errorf("licence of %v: %+v", upper, c.Licenses)
	}
	if c := comps[sbom.PURL(lower)]; c.Licenses == nil || (*c.Licenses)[0].License.Name != "NOASSERTION" {
		t.Errorf("unknown licence of %v: %+v", lower, c.Licenses)
	}
	if c := comps[sbom.PURL(incomp)]; c.Licenses == nil || len(*c.Licenses) != 2 || (*c.Licenses)[0].License.Name != "GooglePatentClause" || (*c.Licenses)[1].License.ID != "MIT" {
		t.Errorf("licences of %v: %+v", incomp, c.Licenses)
	}
	old := comps["modferry:go.mod:"+modOld.String()]
	if old.Scope != cdx.ScopeExcluded || old.PackageURL != "" || old.Hashes != nil || !hasProperty(old.Properties, sbom.PropertyCarried, "go.mod") {
		t.Errorf("go.mod-only module: %+v", old)
	}
	deps := map[string][]string{}
	for _, d := range *bom.Dependencies {
		if d.Dependencies != nil {
			deps[d.Ref] = *d.Dependencies
		}
	}
	root := comps[sbom.RootRef(0)]
	if root.Name != "/src/"+hostile || root.Type != cdx.ComponentTypeApplication || !hasProperty(root.Properties, sbom.PropertyRoot, "project") {
		t.Errorf("root 0: %+v", root)
	}
	wantRoot := []string{sbom.PURL(upper), sbom.PURL(lower), "modferry:go.mod:" + modOld.String()}
	if !slices.Equal(deps[sbom.RootRef(0)], wantRoot) {
		t.Errorf("root 0 depends on %v, want %v", deps[sbom.RootRef(0)], wantRoot)
	}
	if !slices.Equal(deps[sbom.RootRef(1)], []string{sbom.PURL(incomp)}) || !hasProperty(comps[sbom.RootRef(1)].Properties, sbom.PropertyRoot, "module") {
		t.Errorf("root 1 depends on %v", deps[sbom.RootRef(1)])
	}
	if !slices.Equal(deps[sbom.PURL(upper)], []string{sbom.PURL(incomp)}) {
		t.Errorf("%v depends on %v", upper, deps[sbom.PURL(upper)])
	}
	for ref, ds := range deps {
		for _, d := range ds {
			if _, ok := comps[d]; !ok {
				t.Errorf("%s depends on %s, which is not a component", ref, d)
			}
		}
	}
	again, _ := sbom.CycloneDX(testDoc())
	if !bytes.Equal(again, data) {
		t.Error("CycloneDX output is not deterministic")
	}
}

func TestSPDX(t *testing.T) {
	data, err := sbom.SPDX(testDoc())
	if err != nil {
		t.Fatal(err)
	}
	sbomtest.SPDX(t, data)
	checkEscaped(t, data)
	doc, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{} // name@version -> SPDXID
	purls := map[string]string{}
	for _, p := range doc.Packages {
		key := p.PackageName + "@" + p.PackageVersion
		if _, dup := byName[key]; dup {
			t.Errorf("package %s twice", key)
		}
		byName[key] = string(p.PackageSPDXIdentifier)
		for _, r := range p.PackageExternalReferences {
			if r.RefType == "purl" {
				purls[key] = r.Locator
			}
		}
		if p.PackageSupplier == nil || p.PackageSupplier.Supplier != "NOASSERTION" {
			t.Errorf("%s: supplier %+v", key, p.PackageSupplier)
		}
	}
	if len(doc.Packages) != 6 {
		t.Fatalf("%d packages, want 6", len(doc.Packages))
	}
	for _, v := range []module.Version{upper, lower, incomp} {
		if purls[v.String()] != sbom.PURL(v) {
			t.Errorf("%v: purl %q", v, purls[v.String()])
		}
	}
	if p, ok := purls[modOld.String()]; ok {
		t.Errorf("go.mod-only module has a purl %s", p)
	}
	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[string(r.RefA.ElementRefID)+" "+r.Relationship+" "+string(r.RefB.ElementRefID)] = true
	}
	for _, want := range []string{
		"DOCUMENT DESCRIBES Root-1",
		"Root-1 DEPENDS_ON " + byName[upper.String()],
		"Root-1 DEPENDS_ON " + byName[lower.String()],
		byName[upper.String()] + " DEPENDS_ON " + byName[incomp.String()],
		"Root-2 DEPENDS_ON " + byName[incomp.String()],
	} {
		if !rels[want] {
			t.Errorf("no relationship %s", want)
		}
	}
	for _, p := range doc.Packages {
		if p.PackageName == incomp.Path && p.PackageLicenseDeclared != "LicenseRef-GooglePatentClause AND MIT" {
			t.Errorf("licence of %v: %q", incomp, p.PackageLicenseDeclared)
		}
		if p.PackageName == lower.Path && p.PackageLicenseDeclared != "NOASSERTION" {
			t.Errorf("licence of %v: %q", lower, p.PackageLicenseDeclared)
		}
	}
}

// checkEscaped checks that the hostile project name is in the document
// only escaped, and decodes back to itself.
func checkEscaped(t *testing.T, data []byte) {
	t.Helper()
	if bytes.Contains(data, []byte("<script")) || bytes.Contains(data, []byte("<img")) {
		t.Errorf("HTML characters are not escaped in the JSON document")
	}
	if !bytes.Contains(data, []byte(`\u003cscript\u003e`)) {
		t.Errorf("the hostile project name is missing")
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flatten(v), "/src/"+hostile) {
		t.Errorf("the project name does not decode back to itself")
	}
}

func flatten(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			b.WriteString(x)
			b.WriteByte('\n')
		}
	}
	walk(v)
	return b.String()
}

func hasProperty(ps *[]cdx.Property, name, value string) bool {
	if ps == nil {
		return false
	}
	for _, p := range *ps {
		if p.Name == name && p.Value == value {
			return true
		}
	}
	return false
}

// TestEmpty: a document with no modules and no roots is valid too (an
// empty store).
func TestEmpty(t *testing.T) {
	d := sbom.Doc{Name: "empty", Created: time.Unix(1700000000, 0), Tool: "modferry (devel)"}
	c, err := sbom.CycloneDX(d)
	if err != nil {
		t.Fatal(err)
	}
	sbomtest.CycloneDX(t, c)
	s, err := sbom.SPDX(d)
	if err != nil {
		t.Fatal(err)
	}
	sbomtest.SPDX(t, s)
}

const mitText = `MIT License

Copyright (c) 2020 <script>alert("licence")</script>

Permission is hereby granted, free of charge, to any person obtaining a copy
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

// writeZip writes a module zip with the given files.
func writeZip(t *testing.T, v module.Version, files map[string]string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "m.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, content := range files {
		w, err := zw.Create(v.Path + "@" + v.Version + "/" + n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestZipLicenses(t *testing.T) {
	v := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"MIT with hostile text", map[string]string{"LICENSE": mitText, "go.mod": "module example.com/m\n"}, []string{"MIT"}},
		{"root and notice", map[string]string{
			"LICENSE.md": mitText,
			"NOTICE":     "Licensed under the Apache License, Version 2.0; see http://www.apache.org/licenses/LICENSE-2.0\n",
		}, []string{"Apache-2.0", "MIT"}},
		{"nested licence is not the module's", map[string]string{"third_party/x/LICENSE": mitText, "a.go": "package m\n"}, nil},
		{"unknown", map[string]string{"LICENSE": "All rights reserved. <b>Ask us.</b>\n"}, nil},
		{"none", map[string]string{"a.go": "package m\n"}, nil},
	} {
		got, err := sbom.ZipLicenses(writeZip(t, v, c.files), v)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := sbom.ZipLicenses(filepath.Join(t.TempDir(), "missing.zip"), v); err == nil {
		t.Error("a missing zip gives no error")
	}
}

// TestLicenseIDs checks the table of licensecheck identifiers that are not
// SPDX identifiers against the SPDX list the CycloneDX validator uses.
func TestLicenseIDs(t *testing.T) {
	spdxIDs := sbomtest.SPDXLicenseIDs(t)
	for _, l := range licensecheck.BuiltinLicenses() {
		if got, want := sbom.IsSPDXLicense(l.ID), spdxIDs[l.ID]; got != want {
			t.Errorf("IsSPDXLicense(%q) = %v, but the SPDX list says %v", l.ID, got, want)
		}
	}
}

func TestProjectRequirements(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/go.mod", `module example.com/a
go 1.22
require (
	github.com/Sirupsen/logrus v1.0.0
	example.com/local v1.0.0
	example.com/old v1.0.0
	example.com/pinned v1.2.0
)
replace example.com/local => ../local
replace example.com/old v1.0.0 => example.com/new v1.1.0
replace example.com/pinned v1.2.0 => example.com/pinned v1.2.1
replace example.com/pinned => ../pinned
`)
	got, err := sbom.ProjectRequirements(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	// An exact-version replace wins over a path-only one, whatever their order.
	want := []module.Version{upper, {Path: "example.com/new", Version: "v1.1.0"}, {Path: "example.com/pinned", Version: "v1.2.1"}}
	if !slices.Equal(got, want) {
		t.Errorf("module: %v, want %v", got, want)
	}
	write("b/go.mod", "module example.com/b\ngo 1.22\nrequire github.com/sirupsen/logrus v1.0.0\n")
	write("go.work", "go 1.22\nuse (\n\t./a\n\t./b\n)\nreplace github.com/Sirupsen/logrus => github.com/sirupsen/logrus v1.0.0\n")
	got, err = sbom.ProjectRequirements(dir)
	if err != nil {
		t.Fatal(err)
	}
	want = []module.Version{lower, {Path: "example.com/new", Version: "v1.1.0"}, {Path: "example.com/pinned", Version: "v1.2.1"}}
	if !slices.Equal(got, want) {
		t.Errorf("workspace: %v, want %v", got, want)
	}
}

func TestLink(t *testing.T) {
	mods := []sbom.Module{{Version: upper}, {Version: incomp}}
	err := sbom.Link(mods, func(v module.Version) ([]byte, error) {
		if v == upper {
			return []byte("module github.com/Sirupsen/logrus\nrequire (\n\tgithub.com/go-ole/go-ole v3.2.0+incompatible\n\texample.com/pruned v1.0.0\n)\n"), nil
		}
		return []byte("module github.com/go-ole/go-ole\n"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mods[0].Requires, []module.Version{incomp}) || len(mods[1].Requires) != 0 {
		t.Errorf("edges: %v %v", mods[0].Requires, mods[1].Requires)
	}
}
