package sbom

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"golang.org/x/mod/module"
)

// CycloneDXSpec is the CycloneDX specification version written.
const CycloneDXSpec = "1.6"

// CycloneDX property names.
const (
	// PropertyRoot marks a root component: "project" or "module".
	PropertyRoot = "modferry:root"
	// PropertyRequires and PropertyBuildList on a root list, as
	// space-separated path@version, all its direct requirements and its
	// build list (Root.Requires, Root.BuildList), the versions the
	// document does not list included: its dependency edges reach only
	// listed components.
	PropertyRequires  = "modferry:requires"
	PropertyBuildList = "modferry:buildList"
	// PropertyCarried says what of a module version is carried: "zip"
	// (shipped code) or "go.mod" (only its go.mod, for version selection).
	PropertyCarried = "modferry:carried"
	propZipHash     = "modferry:go.sum:zip"
	propModHash     = "modferry:go.sum:go.mod"
	bundleRef       = "modferry:document"
)

// RootRef returns the bom-ref of the i'th root (from 0).
func RootRef(i int) string { return "modferry:root:" + strconv.Itoa(i+1) }

// ModuleRef returns the bom-ref of a module version: its package URL, or
// for a version carried only for its go.mod (which has no package URL, see
// the package documentation) "modferry:go.mod:PATH@VERSION".
func ModuleRef(m Module) string {
	if m.GoModOnly() {
		return "modferry:go.mod:" + m.Path + "@" + m.Version.Version
	}
	return PURL(m.Version)
}

// CycloneDX returns the document in CycloneDX 1.6 JSON. Characters
// special in HTML are escaped (\u003c), so the document is safe to embed.
func CycloneDX(d Doc) ([]byte, error) {
	idx := index(d)
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + serial(d)
	noSupplier := &cdx.OrganizationalEntity{Name: NoAssertion}
	version, _ := strings.CutPrefix(d.Tool, "modferry ")
	bom.Metadata = &cdx.Metadata{
		Timestamp: d.Created.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "modferry", Version: version,
		}}},
		Component: &cdx.Component{BOMRef: bundleRef, Type: cdx.ComponentTypeApplication, Name: d.Name, Supplier: noSupplier},
		Supplier:  noSupplier,
	}
	comps := []cdx.Component{}
	deps := []cdx.Dependency{}
	var top []string
	for i, r := range d.Roots {
		ref := RootRef(i)
		top = append(top, ref)
		kind := "project"
		if r.Module {
			kind = "module"
		}
		props := []cdx.Property{{Name: PropertyRoot, Value: kind}}
		if len(r.Requires) > 0 {
			props = append(props, cdx.Property{Name: PropertyRequires, Value: JoinVersions(r.Requires)})
		}
		if len(r.BuildList) > 0 {
			props = append(props, cdx.Property{Name: PropertyBuildList, Value: JoinVersions(r.BuildList)})
		}
		comps = append(comps, cdx.Component{
			BOMRef: ref, Type: cdx.ComponentTypeApplication, Name: r.Name, Supplier: noSupplier,
			Properties: &props,
		})
		deps = append(deps, cdx.Dependency{Ref: ref, Dependencies: edges(r.Requires, idx)})
	}
	for _, m := range d.Modules {
		c := cdx.Component{
			BOMRef: ModuleRef(m), Type: cdx.ComponentTypeLibrary, Supplier: noSupplier,
			Name: m.Path, Version: m.Version.Version, Scope: cdx.ScopeRequired,
		}
		props := []cdx.Property{}
		if m.GoModOnly() {
			c.Scope = cdx.ScopeExcluded
			props = append(props, cdx.Property{Name: PropertyCarried, Value: "go.mod"})
		} else {
			c.PackageURL = PURL(m.Version)
			props = append(props, cdx.Property{Name: PropertyCarried, Value: "zip"})
			if m.ZipSHA256 != "" {
				c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: m.ZipSHA256}}
			}
			props = append(props, cdx.Property{Name: propZipHash, Value: m.ZipHash})
			c.Licenses = cdxLicenses(m.Licenses)
		}
		props = append(props, cdx.Property{Name: propModHash, Value: m.ModHash})
		c.Properties = &props
		comps = append(comps, c)
		deps = append(deps, cdx.Dependency{Ref: ModuleRef(m), Dependencies: edges(m.Requires, idx)})
	}
	if len(d.Roots) == 0 {
		for _, m := range d.Modules {
			if !m.GoModOnly() {
				top = append(top, ModuleRef(m))
			}
		}
	}
	deps = append([]cdx.Dependency{{Ref: bundleRef, Dependencies: &top}}, deps...)
	bom.Components = &comps
	bom.Dependencies = &deps

	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// JoinVersions writes vs as space-separated path@version.
func JoinVersions(vs []module.Version) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = v.String()
	}
	return strings.Join(ss, " ")
}

// SplitVersions is the inverse of JoinVersions; malformed entries are
// left out.
func SplitVersions(s string) []module.Version {
	var out []module.Version
	for _, f := range strings.Fields(s) {
		p, v, ok := strings.Cut(f, "@")
		if ok && module.Check(p, v) == nil {
			out = append(out, module.Version{Path: p, Version: v})
		}
	}
	return out
}

// edges returns the bom-refs of the listed versions among vs.
func edges(vs []module.Version, idx map[module.Version]*Module) *[]string {
	refs := []string{}
	seen := map[string]bool{}
	for _, v := range vs {
		m, ok := idx[v]
		if !ok {
			continue
		}
		ref := ModuleRef(*m)
		if !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	return &refs
}

func cdxLicenses(ids []string) *cdx.Licenses {
	if len(ids) == 0 {
		return &cdx.Licenses{{License: &cdx.License{Name: NoAssertion}}}
	}
	var ls cdx.Licenses
	for _, id := range ids {
		if IsSPDXLicense(id) {
			ls = append(ls, cdx.LicenseChoice{License: &cdx.License{ID: id}})
		} else {
			ls = append(ls, cdx.LicenseChoice{License: &cdx.License{Name: id}})
		}
	}
	return &ls
}
