package sbom

import (
	"bytes"
	"cmp"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"golang.org/x/mod/module"
)

// SPDX relationship and comment texts.
const (
	goModOnlyComment = "Carried only for its go.mod, which the go command reads to select module versions; no code of this module version is shipped."
)

// SPDXDocument returns the document as a tools-golang SPDX 2.3 document.
func SPDXDocument(d Doc) *spdx.Document {
	idx := index(d)
	ids := make(map[module.Version]common.ElementID, len(d.Modules))
	for i, m := range d.Modules {
		ids[m.Version] = common.ElementID("Module-" + strconv.Itoa(i+1))
	}
	noSupplier := &common.Supplier{Supplier: NoAssertion}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      d.Name,
		DocumentNamespace: "urn:uuid:" + serial(d),
		CreationInfo: &spdx.CreationInfo{
			Created:  d.Created.UTC().Format(time.RFC3339),
			Creators: []common.Creator{{CreatorType: "Tool", Creator: strings.ReplaceAll(cmp.Or(d.Tool, "modferry"), " ", "-")}},
		},
		Packages:      []*spdx.Package{},
		Relationships: []*spdx.Relationship{},
	}
	rel := func(a, b common.ElementID, typ string) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(a)), RefB: common.MakeDocElementID("", string(b)), Relationship: typ,
		})
	}
	dependsOn := func(from common.ElementID, vs []module.Version) {
		seen := map[module.Version]bool{}
		for _, v := range vs {
			if _, ok := idx[v]; ok && !seen[v] {
				seen[v] = true
				rel(from, ids[v], common.TypeRelationshipDependsOn)
			}
		}
	}
	for i, r := range d.Roots {
		id := common.ElementID("Root-" + strconv.Itoa(i+1))
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName: r.Name, PackageSPDXIdentifier: id, PackageSupplier: noSupplier,
			PackageDownloadLocation: NoAssertion, IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded: NoAssertion, PackageLicenseDeclared: NoAssertion, PackageCopyrightText: NoAssertion,
			PrimaryPackagePurpose: "APPLICATION",
		})
		rel("DOCUMENT", id, common.TypeRelationshipDescribe)
		dependsOn(id, r.Requires)
	}
	other := map[string]bool{}
	for _, m := range d.Modules {
		id := ids[m.Version]
		p := &spdx.Package{
			PackageName: m.Path, PackageSPDXIdentifier: id, PackageVersion: m.Version.Version,
			PackageSupplier: noSupplier, PackageDownloadLocation: NoAssertion, IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded: NoAssertion, PackageLicenseDeclared: NoAssertion, PackageCopyrightText: NoAssertion,
			PrimaryPackagePurpose: "LIBRARY",
		}
		if m.GoModOnly() {
			p.PackageComment = goModOnlyComment + " go.sum: " + m.ModHash + " (go.mod)"
		} else {
			p.PackageComment = "go.sum: " + m.ZipHash + ", " + m.ModHash + " (go.mod)"
			p.PackageExternalReferences = []*spdx.PackageExternalReference{{
				Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: PURL(m.Version),
			}}
			if m.ZipSHA256 != "" {
				p.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: m.ZipSHA256}}
			}
			if len(m.Licenses) > 0 {
				var terms []string
				for _, l := range m.Licenses {
					if IsSPDXLicense(l) {
						terms = append(terms, l)
					} else {
						ref := spdxLicenseRef(l)
						terms = append(terms, ref)
						other[l] = true
					}
				}
				p.PackageLicenseDeclared = strings.Join(terms, " AND ")
			}
		}
		doc.Packages = append(doc.Packages, p)
		if len(d.Roots) == 0 && !m.GoModOnly() {
			rel("DOCUMENT", id, common.TypeRelationshipDescribe)
		}
		dependsOn(id, m.Requires)
	}
	for _, l := range sortedKeys(other) {
		doc.OtherLicenses = append(doc.OtherLicenses, &spdx.OtherLicense{
			LicenseIdentifier: spdxLicenseRef(l),
			LicenseName:       l,
			ExtractedText:     "A licence that github.com/google/licensecheck identifies as " + l + "; it has no SPDX identifier.",
		})
	}
	return doc
}

// SPDX returns the document in SPDX 2.3 JSON. Characters special in HTML
// are escaped (\u003c), so the document is safe to embed.
func SPDX(d Doc) ([]byte, error) {
	var buf bytes.Buffer
	if err := spdxjson.Write(SPDXDocument(d), &buf, spdxjson.Indent("  "), spdxjson.EscapeHTML(true)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// spdxLicenseRef returns the LicenseRef- identifier of a licence without an
// SPDX identifier: letters, digits, "." and "-" only.
func spdxLicenseRef(name string) string {
	b := []byte("LicenseRef-")
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
			b = append(b, c)
		default:
			b = append(b, '-')
		}
	}
	return string(b)
}
