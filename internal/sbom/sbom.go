// Package sbom writes software bills of materials for a set of Go module
// versions, in CycloneDX 1.5 JSON and SPDX 2.3 JSON, the two formats
// compliance tools read. Each module version is one component (package),
// identified by its package URL (pkg:golang/PATH@VERSION) and carrying the
// SHA-256 of its module zip and its go.sum h1: hash.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Component is one module version.
type Component struct {
	Path, Version string
	ZipSHA256     string // hex; empty when only the go.mod is carried
	ZipHash       string // "h1:..."
	ModHash       string // "h1:..."
}

// Doc describes the bill of materials.
type Doc struct {
	Name       string // e.g. the bundle file name
	Created    time.Time
	Tool       string // "modferry VERSION"
	Components []Component
}

// PURL returns the package URL of a Go module version.
func PURL(path, version string) string {
	esc := make([]string, 0, 4)
	for _, e := range strings.Split(path, "/") {
		esc = append(esc, url.PathEscape(strings.ToLower(e)))
	}
	return "pkg:golang/" + strings.Join(esc, "/") + "@" + url.PathEscape(version)
}

// CycloneDX returns the document in CycloneDX 1.5 JSON.
func CycloneDX(d Doc) ([]byte, error) {
	type hash struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	}
	type prop struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type comp struct {
		Type       string `json:"type"`
		BOMRef     string `json:"bom-ref"`
		Name       string `json:"name"`
		Version    string `json:"version"`
		PURL       string `json:"purl"`
		Hashes     []hash `json:"hashes,omitempty"`
		Properties []prop `json:"properties,omitempty"`
	}
	var comps []comp
	for _, c := range d.Components {
		x := comp{Type: "library", BOMRef: PURL(c.Path, c.Version), Name: c.Path, Version: c.Version, PURL: PURL(c.Path, c.Version)}
		if c.ZipSHA256 != "" {
			x.Hashes = []hash{{"SHA-256", c.ZipSHA256}}
		}
		if c.ZipHash != "" {
			x.Properties = append(x.Properties, prop{"modferry:go.sum:zip", c.ZipHash})
		}
		x.Properties = append(x.Properties, prop{"modferry:go.sum:go.mod", c.ModHash})
		comps = append(comps, x)
	}
	doc := map[string]any{
		"bomFormat":    "CycloneDX",
		"specVersion":  "1.5",
		"serialNumber": "urn:uuid:" + uuidFrom(d),
		"version":      1,
		"metadata": map[string]any{
			"timestamp": d.Created.UTC().Format(time.RFC3339),
			"tools":     []map[string]string{{"vendor": "modferry", "name": "modferry", "version": strings.TrimPrefix(d.Tool, "modferry ")}},
			"component": map[string]string{"type": "application", "name": d.Name, "bom-ref": "bundle"},
		},
		"components": nonNil(comps),
	}
	return marshal(doc)
}

// SPDX returns the document in SPDX 2.3 JSON.
func SPDX(d Doc) ([]byte, error) {
	type checksum struct {
		Algorithm     string `json:"algorithm"`
		ChecksumValue string `json:"checksumValue"`
	}
	type ref struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	type pkg struct {
		SPDXID           string     `json:"SPDXID"`
		Name             string     `json:"name"`
		VersionInfo      string     `json:"versionInfo"`
		DownloadLocation string     `json:"downloadLocation"`
		FilesAnalyzed    bool       `json:"filesAnalyzed"`
		Checksums        []checksum `json:"checksums,omitempty"`
		ExternalRefs     []ref      `json:"externalRefs"`
		Comment          string     `json:"comment,omitempty"`
	}
	type rel struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
	var pkgs []pkg
	rels := []rel{}
	for i, c := range d.Components {
		id := fmt.Sprintf("SPDXRef-Package-%d", i+1)
		p := pkg{
			SPDXID: id, Name: c.Path, VersionInfo: c.Version, DownloadLocation: "NOASSERTION",
			ExternalRefs: []ref{{"PACKAGE-MANAGER", "purl", PURL(c.Path, c.Version)}},
			Comment:      "go.sum: " + strings.TrimSpace(c.ZipHash+" "+c.ModHash+" (go.mod)"),
		}
		if c.ZipSHA256 != "" {
			p.Checksums = []checksum{{"SHA256", c.ZipSHA256}}
		}
		pkgs = append(pkgs, p)
		rels = append(rels, rel{"SPDXRef-DOCUMENT", "DESCRIBES", id})
	}
	doc := map[string]any{
		"spdxVersion":       "SPDX-2.3",
		"dataLicense":       "CC0-1.0",
		"SPDXID":            "SPDXRef-DOCUMENT",
		"name":              d.Name,
		"documentNamespace": "urn:modferry:sbom:" + uuidFrom(d),
		"creationInfo": map[string]any{
			"created":  d.Created.UTC().Format(time.RFC3339),
			"creators": []string{"Tool: " + d.Tool},
		},
		"packages":      nonNil(pkgs),
		"relationships": rels,
	}
	return marshal(doc)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// uuidFrom derives a stable UUID-shaped identifier from the document, so
// the same bundle content gives the same SBOM bytes.
func uuidFrom(d Doc) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", d.Name, d.Created.UTC().Format(time.RFC3339))
	for _, c := range d.Components {
		fmt.Fprintf(h, "%s %s %s %s\n", c.Path, c.Version, c.ZipHash, c.ModHash)
	}
	s := hex.EncodeToString(h.Sum(nil))
	return s[0:8] + "-" + s[8:12] + "-5" + s[13:16] + "-a" + s[17:20] + "-" + s[20:32]
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
