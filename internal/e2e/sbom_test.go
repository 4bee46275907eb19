package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/inspect"
	"github.com/modferry/modferry/internal/sbom"
	"github.com/modferry/modferry/internal/sbom/sbomtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// hostileName is a project directory name full of HTML and script
// characters.
const hostileName = `logrus <script>alert("x")</script> & </title><img src=x onerror=alert(1)>`

// TestSBOMAndInspect exports, into one bundle, a project that needs
// modferry.test/Sirupsen/logrus (from a directory with a hostile name) and
// the module argument modferry.test/sirupsen/logrus (two modules whose
// paths differ only in case); checks the bundle's SBOMs with the
// validators scanners trust and for unique refs, edges, licences and
// go.mod-only versions; inspects the bundle; imports it and checks that
// the store keeps the SBOMs; and writes SBOMs of the store and of each
// project.
func TestSBOMAndInspect(t *testing.T) {
	up := testupstream.New(t)
	proj := filepath.Join(t.TempDir(), hostileName)
	testupstream.WriteProject(t, "logrus", proj)
	key, pub := keygen(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	const arg = "modferry.test/sirupsen/logrus@v1.0.0"
	mfEnv(t, exportEnv, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, "--toolchain", "none", proj, arg)

	members := bundleMembers(t, b, bundle.SBOMCycloneDX, bundle.SBOMSPDX)
	cdxDoc, spdxDoc := members[bundle.SBOMCycloneDX], members[bundle.SBOMSPDX]
	sbomtest.CycloneDX(t, cdxDoc)
	sbomtest.SPDX(t, spdxDoc)
	for name, data := range members {
		if bytes.Contains(data, []byte("<script")) || !bytes.Contains(data, []byte(`\u003cscript\u003e`)) {
			t.Errorf("%s: the project name is not escaped", name)
		}
	}

	upper := "pkg:golang/modferry.test/Sirupsen/logrus@v1.0.0"
	lower := "pkg:golang/modferry.test/sirupsen/logrus@v1.0.0"
	incompat := "pkg:golang/modferry.test/incompat@v3.0.0%2Bincompatible"
	bom := decodeCDX(t, cdxDoc)
	comps := map[string]cdx.Component{}
	roots := map[string]string{} // name -> bom-ref
	for _, c := range *bom.Components {
		if _, dup := comps[c.BOMRef]; dup {
			t.Errorf("bom-ref %s twice", c.BOMRef)
		}
		comps[c.BOMRef] = c
		if c.Type == cdx.ComponentTypeApplication {
			roots[c.Name] = c.BOMRef
		}
	}
	for ref, lic := range map[string]string{upper: "MIT", lower: "Apache-2.0", incompat: "NOASSERTION"} {
		c, ok := comps[ref]
		if !ok || c.PackageURL != ref || c.Scope != cdx.ScopeRequired {
			t.Errorf("component %s: %+v", ref, c)
			continue
		}
		if c.Licenses == nil || len(*c.Licenses) != 1 || cmpLicense((*c.Licenses)[0]) != lic {
			t.Errorf("%s: licences %+v, want %s", ref, c.Licenses, lic)
		}
	}
	// dep v1.0.0 is needed only for its go.mod (lib v1.0.0 requires it,
	// the project selects v1.1.0).
	dep := comps["modferry:go.mod:modferry.test/dep@v1.0.0"]
	if dep.Scope != cdx.ScopeExcluded || dep.PackageURL != "" {
		t.Errorf("go.mod-only dep v1.0.0: %+v", dep)
	}
	deps := map[string][]string{}
	for _, d := range *bom.Dependencies {
		if d.Dependencies != nil {
			deps[d.Ref] = *d.Dependencies
		}
	}
	projRef, argRef := roots[proj], roots[arg]
	if projRef == "" || argRef == "" {
		t.Fatalf("roots %v, want %s and %s", roots, proj, arg)
	}
	for _, want := range []string{upper, "pkg:golang/modferry.test/lib@v1.0.0", "pkg:golang/modferry.test/dep@v1.1.0"} {
		if !slices.Contains(deps[projRef], want) {
			t.Errorf("the project depends on %v, not on %s", deps[projRef], want)
		}
	}
	if !slices.Equal(deps[argRef], []string{lower}) {
		t.Errorf("the module argument depends on %v", deps[argRef])
	}
	if !slices.Equal(deps[upper], []string{incompat}) {
		t.Errorf("%s depends on %v", upper, deps[upper])
	}
	if !slices.Contains(deps["pkg:golang/modferry.test/lib@v1.0.0"], dep.BOMRef) {
		t.Errorf("lib v1.0.0 depends on %v, not on the go.mod-only dep v1.0.0", deps["pkg:golang/modferry.test/lib@v1.0.0"])
	}

	// inspect, before import.
	var r inspect.Report
	out := mfStdout(t, "inspect", "--json", b)
	if strings.Contains(out, "<script") {
		t.Errorf("inspect --json does not escape the project name:\n%s", out)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Projects) != 2 || !slices.ContainsFunc(r.Projects, func(p bundle.Project) bool { return p.Path == proj }) {
		t.Errorf("inspect projects: %+v", r.Projects)
	}
	if r.Modules != len(comps)-2 || r.GoModOnly < 1 || r.Zips < 4 || len(r.Largest) == 0 || r.Signatures.KeyID == "" || r.Signatures.Checked {
		t.Errorf("inspect: %+v", r)
	}
	out = mfStdout(t, "inspect", "--pubkey", pub, b)
	if !strings.Contains(out, "verified, signed by minisign:"+r.Signatures.KeyID) || !strings.Contains(out, hostileName) {
		t.Errorf("inspect --pubkey:\n%s", out)
	}
	_, otherPub := keygen(t)
	if out, err := mfErr(t, "inspect", "--pubkey", otherPub, b); err == nil || !strings.Contains(out, "DOES NOT VERIFY") {
		t.Errorf("inspect with another key: %v\n%s", err, out)
	}

	// A split bundle, named by its index or a part.
	sb := filepath.Join(t.TempDir(), "split.tar.zst")
	mfEnv(t, exportEnv, "export", "--sign-key", key, "--split", "4K", "-o", sb, "--upstream", up.URL, "--toolchain", "none", proj, arg)
	for _, name := range []string{sb + ".parts", sb + ".001"} {
		var sr inspect.Report
		if err := json.Unmarshal([]byte(mfStdout(t, "inspect", "--json", "--pubkey", pub, name)), &sr); err != nil {
			t.Fatal(err)
		}
		if !sr.Signatures.Verified || sr.Modules != r.Modules || len(sr.Projects) != 2 || sr.Bytes < 4096 {
			t.Errorf("inspect %s: %+v", name, sr)
		}
	}

	store := t.TempDir()
	emptyInv := filepath.Join(t.TempDir(), "empty.json")
	mf(t, "inventory", "--store", store, "-o", emptyInv)
	if err := json.Unmarshal([]byte(mfStdout(t, "inspect", "--json", "--against", emptyInv, b)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Against == nil || len(r.Against.New) != r.Modules || r.Against.Held != 0 {
		t.Errorf("inspect --against an empty store: %+v", r.Against)
	}

	mf(t, "import", "--pubkey", pub, "--store", store, b)
	data, _ := os.ReadFile(b)
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	for name, want := range members {
		got, err := os.ReadFile(filepath.Join(store, "bundles", digest, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the store does not keep the bundle's %s: %v", name, err)
		}
	}
	inv := filepath.Join(t.TempDir(), "inv.json")
	mf(t, "inventory", "--store", store, "-o", inv)
	if err := json.Unmarshal([]byte(mfStdout(t, "inspect", "--json", "--against", inv, b)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Against == nil || len(r.Against.New) != 0 || r.Against.Held != r.Modules {
		t.Errorf("inspect --against the store it went into: %+v", r.Against)
	}

	// SBOMs of the store.
	dir := t.TempDir()
	whole := filepath.Join(dir, "store.cdx.json")
	mf(t, "sbom", "--store", store, "-o", whole)
	sbomtest.CycloneDX(t, read(t, whole))
	storeBOM := decodeCDX(t, read(t, whole))
	if n := len(*storeBOM.Components); n != len(comps) {
		t.Errorf("store SBOM: %d components, want %d", n, len(comps))
	}
	spdxFile := filepath.Join(dir, "store.spdx.json")
	mf(t, "sbom", "--store", store, "--format", "spdx", "-o", spdxFile)
	sbomtest.SPDX(t, read(t, spdxFile))
	one := filepath.Join(dir, "arg.cdx.json")
	mf(t, "sbom", "--store", store, "--project", arg, "-o", one)
	sbomtest.CycloneDX(t, read(t, one))
	argBOM := decodeCDX(t, read(t, one))
	var refs []string
	for _, c := range *argBOM.Components {
		refs = append(refs, c.BOMRef)
	}
	if !slices.Equal(refs, []string{sbom.RootRef(0), lower}) {
		t.Errorf("SBOM of %s: components %v", arg, refs)
	}
	projFile := filepath.Join(dir, "proj.spdx.json")
	mf(t, "sbom", "--store", store, "--project", proj, "--format", "spdx", "-o", projFile)
	sbomtest.SPDX(t, read(t, projFile))
	if out, err := mfErr(t, "sbom", "--store", store, "--project", "nosuch"); err == nil || !strings.Contains(out, "nosuch") {
		t.Errorf("sbom --project nosuch: %v\n%s", err, out)
	}
}

func cmpLicense(l cdx.LicenseChoice) string {
	if l.License == nil {
		return l.Expression
	}
	if l.License.ID != "" {
		return l.License.ID
	}
	return l.License.Name
}

func decodeCDX(t *testing.T, data []byte) *cdx.BOM {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.Components == nil || bom.Dependencies == nil {
		t.Fatalf("no components or dependencies:\n%s", data)
	}
	return &bom
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bundleMembers reads a bundle (unchecked signature) and returns the
// named members.
func bundleMembers(t *testing.T, file string, names ...string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stage, err := bundle.NewDirStage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stage.Close()
	if _, err := bundle.Read(context.Background(), f, bundle.ReadOptions{AllowUnsigned: true, Stage: stage}); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		p, err := stage.LocalPath(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = read(t, p)
	}
	return out
}

// mfStdout runs modferry and returns its standard output alone.
func mfStdout(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(modferryBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("modferry %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
