package sbom

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDocuments(t *testing.T) {
	d := Doc{Name: "deps.tar.zst", Created: time.Unix(1700000000, 0), Tool: "modferry v1.0.0", Components: []Component{
		{Path: "github.com/BurntSushi/toml", Version: "v1.4.0", ZipSHA256: strings.Repeat("ab", 32), ZipHash: "h1:zip=", ModHash: "h1:mod="},
		{Path: "modferry.test/modonly", Version: "v1.0.0", ModHash: "h1:m="},
	}}
	cdx, err := CycloneDX(d)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		BOMFormat   string
		SpecVersion string
		Components  []struct {
			PURL   string
			Hashes []struct{ Alg, Content string }
		}
	}
	if err := json.Unmarshal(cdx, &c); err != nil {
		t.Fatal(err)
	}
	if c.BOMFormat != "CycloneDX" || c.SpecVersion != "1.5" || len(c.Components) != 2 {
		t.Fatalf("CycloneDX document: %s", cdx)
	}
	if c.Components[0].PURL != "pkg:golang/github.com/burntsushi/toml@v1.4.0" || c.Components[0].Hashes[0].Alg != "SHA-256" {
		t.Errorf("component 0: %+v", c.Components[0])
	}
	spdx, err := SPDX(d)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		SPDXVersion string
		Packages    []struct {
			Name, VersionInfo string
			Checksums         []struct{ Algorithm, ChecksumValue string }
		}
		Relationships []struct{ RelationshipType string }
	}
	if err := json.Unmarshal(spdx, &s); err != nil {
		t.Fatal(err)
	}
	if s.SPDXVersion != "SPDX-2.3" || len(s.Packages) != 2 || len(s.Relationships) != 2 || s.Packages[0].Checksums[0].Algorithm != "SHA256" {
		t.Fatalf("SPDX document: %s", spdx)
	}
	again, _ := SPDX(d)
	if string(again) != string(spdx) {
		t.Errorf("SPDX output is not deterministic")
	}
}
