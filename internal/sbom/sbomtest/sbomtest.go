// Package sbomtest validates SBOM documents in tests, with the validators
// scanners and compliance tools trust: CycloneDX with the strict JSON
// validator of the official JavaScript library (@cyclonedx/cyclonedx-library,
// run with node), SPDX with tools-golang's document validation and the
// SPDX 2.3 JSON schema. It is for tests only: it finds its files in the
// source tree (internal/sbom/testdata).
package sbomtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// testdata returns internal/sbom/testdata in the source tree.
func testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(filepath.Dir(file)), "testdata")
}

var (
	npmOnce sync.Once
	npmDir  string
	npmErr  error
	npmSkip string
)

// validatorDir installs the CycloneDX validator (npm ci from the committed
// package-lock.json) once per lock file content, in the user cache
// directory, and returns the directory holding validate.js and
// node_modules. It skips the test if node or npm is missing.
func validatorDir(t testing.TB) string {
	t.Helper()
	npmOnce.Do(func() {
		for _, tool := range []string{"node", "npm"} {
			if _, err := exec.LookPath(tool); err != nil {
				npmSkip = tool + " is not installed: the CycloneDX documents are not checked with @cyclonedx/cyclonedx-library (scripts/test.sh installs nodejs and npm)"
				return
			}
		}
		src := filepath.Join(testdata(), "validate")
		lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
		if err != nil {
			npmErr = err
			return
		}
		script, err := os.ReadFile(filepath.Join(src, "validate.js"))
		if err != nil {
			npmErr = err
			return
		}
		sum := sha256.Sum256(append(lock, script...))
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "modferry-test", "cyclonedx-validate-"+hex.EncodeToString(sum[:8]))
		if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
			npmDir = dir
			return
		}
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "tmp-")
		if err != nil {
			if err = os.MkdirAll(filepath.Dir(dir), 0o777); err == nil {
				tmp, err = os.MkdirTemp(filepath.Dir(dir), "tmp-")
			}
			if err != nil {
				npmErr = err
				return
			}
		}
		defer os.RemoveAll(tmp)
		for _, f := range []string{"package.json", "package-lock.json", "validate.js"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err == nil {
				err = os.WriteFile(filepath.Join(tmp, f), b, 0o644)
			}
			if err != nil {
				npmErr = err
				return
			}
		}
		cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci (installing @cyclonedx/cyclonedx-library): %v\n%s", err, out)
			return
		}
		if err := os.WriteFile(filepath.Join(tmp, "ok"), nil, 0o644); err != nil {
			npmErr = err
			return
		}
		if err := os.Rename(tmp, dir); err != nil {
			if _, serr := os.Stat(filepath.Join(dir, "ok")); serr != nil {
				npmErr = err
				return
			}
		}
		npmDir = dir
	})
	if npmSkip != "" {
		t.Skip(npmSkip)
	}
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	return npmDir
}

// CycloneDX validates a CycloneDX JSON document with the strict validator
// of @cyclonedx/cyclonedx-library for its specVersion.
func CycloneDX(t testing.TB, doc []byte) {
	t.Helper()
	var head struct {
		SpecVersion string `json:"specVersion"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		t.Fatalf("CycloneDX document: %v", err)
	}
	dir := validatorDir(t)
	f := filepath.Join(t.TempDir(), "bom.cdx.json")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "validate.js", head.SpecVersion, f)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("@cyclonedx/cyclonedx-library rejects the document: %v\n%s", err, out)
	}
}

// SPDXLicenseIDs returns the SPDX licence identifiers the CycloneDX library
// validates against (its spdx.schema.json).
func SPDXLicenseIDs(t testing.TB) map[string]bool {
	t.Helper()
	dir := validatorDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@cyclonedx", "cyclonedx-library", "res", "schema", "spdx.SNAPSHOT.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Enum []string }
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, id := range s.Enum {
		ids[id] = true
	}
	return ids
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// SPDX validates an SPDX 2.3 JSON document against the SPDX 2.3 JSON
// schema (formats asserted) and with tools-golang's document validation
// (every relationship names an element of the document).
func SPDX(t testing.TB, doc []byte) {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open(filepath.Join(testdata(), "spdx-2.3.schema.json"))
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		s, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if schemaErr = c.AddResource("spdx-2.3.schema.json", s); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile("spdx-2.3.schema.json")
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("SPDX document: %v", err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("the SPDX 2.3 JSON schema rejects the document: %v", err)
	}
	d, err := spdxjson.Read(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("tools-golang cannot read the SPDX document: %v", err)
	}
	if d.SPDXVersion != "SPDX-2.3" {
		t.Fatalf("spdxVersion %q, want SPDX-2.3", d.SPDXVersion)
	}
	if err := spdxlib.ValidateDocument(d); err != nil {
		t.Fatalf("tools-golang rejects the SPDX document: %v", err)
	}
}
