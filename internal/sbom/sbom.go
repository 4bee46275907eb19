// Package sbom writes software bills of materials for a set of Go module
// versions, in CycloneDX 1.6 JSON and SPDX 2.3 JSON, the two formats
// compliance tools and vulnerability scanners read. The documents are built
// with the formats' maintained libraries (github.com/CycloneDX/cyclonedx-go,
// github.com/spdx/tools-golang) and identify modules by package URL
// (github.com/package-url/packageurl-go).
//
// # What a document says
//
//   - Each module version is one component (SPDX package) identified by its
//     package URL, pkg:golang/PATH@VERSION. Go module paths are
//     case-sensitive (github.com/Sirupsen/logrus and
//     github.com/sirupsen/logrus are two modules), so the path keeps its
//     case; the version is percent-encoded (v3.2.0%2Bincompatible). The
//     package URL is also the CycloneDX bom-ref, so refs are unique.
//   - Each exported project and module argument is a root component
//     (CycloneDX type application, SPDX primary purpose APPLICATION) that
//     depends on the module versions its go.mod files require.
//   - Dependency edges are the module requirement graph, as go mod graph
//     prints it: a module version depends on the exact versions its go.mod
//     requires. Only edges to versions the document lists are kept: with
//     graph pruning the go command never reads (and a bundle never carries)
//     the go.mod of every version named in a requirement, and a delta
//     bundle leaves out what the other side holds.
//   - Licences are those licensecheck finds in the licence files at the
//     module root of the zip (see [ZipLicenses]), as SPDX identifiers;
//     NOASSERTION when none is recognised. The supplier is NOASSERTION: a
//     module proxy does not say who supplies a module.
//   - A module version carried only for its go.mod (the go command needs
//     the go.mod files of the whole module graph to select versions, but
//     builds nothing from them) is not shipped code. Scanners that read
//     CycloneDX scope (Dependency-Track, for one) skip scope "excluded"; the
//     ones that match every component with a package URL (grype, trivy) do
//     not, so such a component also carries no package URL: it cannot be
//     matched against a vulnerability database, while the document still
//     says it is there (property modferry:carried = go.mod). In SPDX it is
//     a package without a package URL, with a comment saying so, and no
//     checksum.
package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/package-url/packageurl-go"
	"golang.org/x/mod/module"
)

// Module is one module version.
type Module struct {
	module.Version
	ZipSHA256 string // hex SHA-256 of the zip; empty when only the go.mod is carried
	ZipHash   string // "h1:..."; empty when only the go.mod is carried
	ModHash   string // "h1:..."
	// Licenses are the SPDX identifiers of the licences found in the zip;
	// empty means none was recognised (NOASSERTION).
	Licenses []string
	// Requires are the module versions its go.mod requires (edges to
	// versions the document does not list are dropped).
	Requires []module.Version
}

// GoModOnly reports whether only the module's go.mod is carried.
func (m Module) GoModOnly() bool { return m.ZipHash == "" }

// Root is an exported project or module argument: what the modules are
// carried for.
type Root struct {
	// Name is the project directory or the module@version argument, as
	// the bundle manifest names it.
	Name string
	// Module reports a module@version argument rather than a project.
	Module bool
	// Requires are the module versions it depends on directly.
	Requires []module.Version
	// BuildList, where known, is every module version it builds with
	// (go list -m all), whether or not the document lists it: a delta
	// bundle carries only part of it, and a store's document of the
	// project (package storedoc) is this list's versions that the store
	// holds.
	BuildList []module.Version
}

// Doc describes the bill of materials.
type Doc struct {
	Name    string // e.g. the bundle file name
	Created time.Time
	Tool    string // "modferry VERSION"
	Roots   []Root
	Modules []Module
}

// PURL returns the package URL of a Go module version. The module path
// keeps its case and the version is percent-encoded, for example
// pkg:golang/github.com/BurntSushi/toml@v1.3.2.
func PURL(v module.Version) string {
	ns, name := "", v.Path
	for i := len(v.Path) - 1; i >= 0; i-- {
		if v.Path[i] == '/' {
			ns, name = v.Path[:i], v.Path[i+1:]
			break
		}
	}
	// ToString, not Normalize: normalizing lower-cases golang names.
	p := packageurl.NewPackageURL(packageurl.TypeGolang, ns, name, v.Version, nil, "")
	return p.ToString()
}

// NoAssertion is what SPDX and this package write for an unknown licence
// or supplier.
const NoAssertion = "NOASSERTION"

// serial derives a stable identifier from the document, so that the same
// content gives the same SBOM bytes.
func serial(d Doc) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", d.Name, d.Created.UTC().Format(time.RFC3339), d.Tool)
	for _, r := range d.Roots {
		fmt.Fprintf(h, "root %q %v\n", r.Name, r.Requires)
	}
	for _, m := range d.Modules {
		fmt.Fprintf(h, "%s %s %s %s %v %v\n", m.Path, m.Version, m.ZipHash, m.ModHash, m.Licenses, m.Requires)
	}
	s := hex.EncodeToString(h.Sum(nil))
	return s[0:8] + "-" + s[8:12] + "-5" + s[13:16] + "-a" + s[17:20] + "-" + s[20:32]
}

// index returns the document's modules by version.
func index(d Doc) map[module.Version]*Module {
	idx := make(map[module.Version]*Module, len(d.Modules))
	for i := range d.Modules {
		idx[d.Modules[i].Version] = &d.Modules[i]
	}
	return idx
}
