package api

import (
	"encoding/json"
	"net/url"
	"time"

	"golang.org/x/mod/module"
)

// The metadata API's paths (all GET, read scope).
const (
	// SearchPath searches the store's modules: ?q=&prefix=&limit=&cursor=
	// (a SearchResult). ModulesPath + "<escaped module path>" is a module
	// (a Module); see ModulePath.
	SearchPath = "/api/v1/modules"
	// StatsPath answers Stats. (BundlesPath, GET, lists the import
	// history, a BundleList; BundlesPath + "/<digest>" is one import, a
	// Bundle, and BundlesPath + "/<digest>/" + a download name one of its
	// files; see BundlePath.)
	StatsPath = "/api/v1/stats"
	// OpenAPIPath serves the API's OpenAPI 3.1 document.
	OpenAPIPath = "/api/v1/openapi.json"
)

// The downloads of an imported bundle, under its Bundle path.
const (
	DownloadManifest  = "manifest.json"
	DownloadCycloneDX = "sbom.cdx.json"
	DownloadSPDX      = "sbom.spdx.json"
)

// SearchResult is one page of search results.
type SearchResult struct {
	Modules []ModuleSummary `json:"modules"`
	// Next is the cursor of the next page, "" on the last page.
	Next string `json:"next,omitempty"`
	// Partial says the index is still being built: modules not indexed
	// yet are missing.
	Partial bool `json:"partial,omitempty"`
}

// ModuleSummary is a module in search results.
type ModuleSummary struct {
	Path       string `json:"path"`
	Latest     string `json:"latest,omitempty"`
	Versions   int    `json:"versions"`  // complete versions
	GoModOnly  int    `json:"goModOnly"` // versions with only a go.mod
	Deprecated bool   `json:"deprecated,omitempty"`
}

// Module is what the store holds of one module path.
type Module struct {
	Path string `json:"path"`
	// Latest is the version "go get PATH@latest" picks; "" when the store
	// holds only go.mod files of the module.
	Latest string `json:"latest,omitempty"`
	// Deprecated is the "// Deprecated:" message of the latest go.mod.
	Deprecated string `json:"deprecated,omitempty"`
	// Versions, newest first.
	Versions []ModuleVersion `json:"versions"`
	// RequiresOf is the version whose go.mod Requires lists: the one asked
	// for, else Latest, else the highest version.
	RequiresOf string        `json:"requiresOf"`
	Requires   []Requirement `json:"requires"`
	// Dependents are the modules some stored version of which requires
	// this module, by path, at most a bounded number of them;
	// DependentsTotal counts them all.
	Dependents      []Dependent `json:"dependents"`
	DependentsTotal int         `json:"dependentsTotal"`
	// Partial says the index is still being built: Dependents may miss
	// modules not indexed yet.
	Partial bool `json:"partial,omitempty"`
}

// ModuleVersion is one stored version of a module.
type ModuleVersion struct {
	Version string    `json:"version"`
	Time    time.Time `json:"time,omitzero"`
	// GoModOnly says the store holds only the version's go.mod (the
	// module graph needs it; nobody downloads its zip).
	GoModOnly bool   `json:"goModOnly,omitempty"`
	ZipSize   int64  `json:"zipSize,omitempty"`
	ModSize   int64  `json:"modSize"`
	ZipHash   string `json:"zipHash,omitempty"` // h1: of the zip (go.sum)
	ModHash   string `json:"modHash,omitempty"` // h1: of the go.mod (go.sum "/go.mod")
	GoVersion string `json:"goVersion,omitempty"`
	// Licenses are the SPDX identifiers (or, for the few licences
	// without one, licence names) found in the licence files at the
	// root of the zip (github.com/google/licensecheck): empty when none
	// is recognised (NOASSERTION), absent for a go.mod-only version or
	// a zip that could not be read.
	Licenses         []string `json:"licenses,omitzero"`
	Retracted        bool     `json:"retracted,omitempty"`
	RetractRationale string   `json:"retractRationale,omitempty"`
	Origin           *Origin  `json:"origin,omitempty"`
}

// Origin is where a version came from: an imported bundle, or a publish.
type Origin struct {
	Kind   string    `json:"kind"`             // OriginBundle or OriginPublish
	Bundle string    `json:"bundle,omitempty"` // SHA-256 of the bundle file
	File   string    `json:"file,omitempty"`   // the bundle's file name at import
	Time   time.Time `json:"time"`             // when it was imported or published
	Actor  string    `json:"actor,omitempty"`  // who published it
}

// The kinds of Origin.
const (
	OriginBundle  = "bundle"
	OriginPublish = "publish"
)

// Requirement is a require directive.
type Requirement struct {
	Path     string `json:"path"`
	Version  string `json:"version"`
	Indirect bool   `json:"indirect,omitempty"`
}

// Dependent is a module some versions of which require the module.
type Dependent struct {
	Path     string             `json:"path"`
	Versions []DependentVersion `json:"versions"` // semver order
}

// DependentVersion is a version of a dependent and the version of the
// module it requires.
type DependentVersion struct {
	Version  string `json:"version"`
	Requires string `json:"requires"`
}

// Stats are counts over the whole store.
type Stats struct {
	Modules   int   `json:"modules"`   // module paths
	Versions  int   `json:"versions"`  // complete versions
	GoModOnly int   `json:"goModOnly"` // versions with only a go.mod
	ZipBytes  int64 `json:"zipBytes"`  // sum of the zips' sizes
	ModBytes  int64 `json:"modBytes"`  // sum of the .mod files' sizes
	Bundles   int   `json:"bundles"`   // imports recorded
	// NewestImport is the most recent import, nil before the first.
	NewestImport *Origin `json:"newestImport,omitempty"`
	// ChecksumDBs are the heads the store serves, by database name.
	ChecksumDBs []ChecksumDBHead `json:"checksumDBs"`
	// Refreshed is when the last full pass over the store began.
	Refreshed time.Time `json:"refreshed,omitzero"`
	Partial   bool      `json:"partial,omitempty"`
}

// ChecksumDBHead is the signed tree head a checksum database serves.
type ChecksumDBHead struct {
	Name string `json:"name"`
	Size int64  `json:"size"` // tree size (records)
	Hash string `json:"hash"` // root hash, base64
	Note string `json:"note"` // the signed note, as served at /sumdb/NAME/latest
}

// BundleList is the import history, newest import first.
type BundleList struct {
	Bundles []Bundle `json:"bundles"`
}

// Bundle is one imported bundle: what its import record and its manifest
// say, who signed it (from the audit log), and what can be downloaded.
type Bundle struct {
	Digest   string    `json:"digest"` // SHA-256 of the bundle file, hex
	File     string    `json:"file"`   // the bundle's file name at import
	Imported time.Time `json:"imported"`
	Actor    string    `json:"actor,omitempty"` // who imported it
	// Signers are the trusted keys whose signatures verified at import,
	// as "kind:ID" (minisign key ID, OpenPGP fingerprint), from the
	// audit log; empty when it does not record them.
	Signers []string `json:"signers"`
	// Created is when the bundle was made, ToolVersion by which modferry.
	Created     time.Time `json:"created,omitzero"`
	ToolVersion string    `json:"toolVersion,omitempty"`
	// Modules counts the module versions the bundle lists; GoModOnly
	// those of them carried for their go.mod only. Files and Bytes count
	// its members.
	Modules   int   `json:"modules"`
	GoModOnly int   `json:"goModOnly"`
	Files     int   `json:"files"`
	Bytes     int64 `json:"bytes"`
	// BaseInventory is the SHA-256 of the inventory a delta bundle was
	// made against; "" for a full bundle.
	BaseInventory string          `json:"baseInventory,omitempty"`
	Projects      []BundleProject `json:"projects"`
	// SumDB names the checksum database and tree head of its proofs.
	SumDB *BundleSumDB `json:"sumdb,omitempty"`
	// Downloads are the API paths of the bundle's manifest and of the
	// SBOMs the store kept, by name (DownloadManifest, ...).
	Downloads map[string]string `json:"downloads"`
	// Manifest is the bundle's manifest, only in the answer for one
	// bundle.
	Manifest json.RawMessage `json:"manifest,omitempty"`
}

// BundleProject is a source project a bundle was exported for.
type BundleProject struct {
	Path        string `json:"path"`
	VCSRevision string `json:"vcsRevision,omitempty"`
}

// BundleSumDB names the checksum database whose proofs a bundle carries.
type BundleSumDB struct {
	Name     string `json:"name"`
	TreeHead string `json:"treeHead,omitempty"`
}

// ModulePath returns the API path of a module's page:
// ModulesPath + "<escaped module path>".
func ModulePath(path string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	return ModulesPath + esc, nil
}

// BundlePath returns the API path of an imported bundle.
func BundlePath(digest string) string {
	return BundlesPath + "/" + url.PathEscape(digest)
}
