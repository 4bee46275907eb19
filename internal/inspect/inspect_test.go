package inspect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/inspect"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/modfiles"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReadHeadReadsOnlyTheHead proves that inspecting a bundle reads its
// first members only: a few kilobytes of a bundle of megabytes.
func TestReadHeadReadsOnlyTheHead(t *testing.T) {
	key, _ := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	mods := append(bundletest.RandomModules(7, 8, 1<<20), bundletest.Module{Path: "modferry.test/modonly", Version: "v1.0.0"})
	m := bundletest.Write(t, b, mods, key)
	f, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	cr := &countingReader{r: f}
	h, err := bundle.ReadHead(cr)
	if err != nil {
		t.Fatal(err)
	}
	if h.Signatures.Minisign == nil || h.Signatures.OpenPGP != nil || len(h.Manifest.Modules) != len(m.Modules) {
		t.Fatalf("head: %d modules, signatures %+v", len(h.Manifest.Modules), h.Signatures)
	}
	if canon, _ := m.Marshal(); !bytes.Equal(canon, h.Raw) {
		t.Error("Raw is not the manifest as signed")
	}
	if limit := int64(256 << 10); cr.n > limit || fi.Size() < 8<<20 {
		t.Errorf("read %d bytes of a %d-byte bundle, want at most %d", cr.n, fi.Size(), limit)
	}
	r := inspect.New("b.tar.zst", fi.Size(), h)
	if r.Modules != 9 || r.Zips != 8 || r.GoModOnly != 1 || len(r.Largest) != 9 || r.Largest[0].Bytes < 1<<20 || r.Largest[8].Path != "modferry.test/modonly" {
		t.Errorf("report: %+v", r)
	}
	if r.Signatures.KeyID != key.ID() || r.Signatures.Checked {
		t.Errorf("signatures %+v, want key %s, not checked", r.Signatures, key.ID())
	}
}

func TestReadHeadRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":    nil,
		"not zstd": []byte("MANIFEST.json\x00 this is not a bundle"),
	} {
		if _, err := bundle.ReadHead(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A bundle cut short inside the manifest.
	key, _ := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, bundletest.RandomModules(1, 2, 100), key)
	data, _ := os.ReadFile(b)
	if _, err := bundle.ReadHead(bytes.NewReader(data[:40])); !errors.Is(err, bundle.ErrCorrupt) {
		t.Errorf("truncated bundle: %v, want ErrCorrupt", err)
	}
}

const hostile = `<script>alert("x")</script> & </title><img src=x onerror=alert(1)>`

func TestReportAgainst(t *testing.T) {
	mod := func(path, version, zip string) bundle.Module {
		return bundle.Module{Path: path, Version: version, ZipHash: zip, ModHash: "h1:" + strings.Repeat("m", 43) + "="}
	}
	tc := module.Version{Path: "golang.org/toolchain", Version: "v0.0.1-go1.27.0.linux-amd64"}
	zh := "h1:" + strings.Repeat("z", 43) + "="
	m := &bundle.Manifest{
		FormatVersion: 1, Created: time.Unix(1700000000, 0).UTC(), ToolVersion: "v1.0.0",
		Projects:      []bundle.Project{{Path: "/src/" + hostile}},
		BaseInventory: strings.Repeat("ab", 32),
		SumDB:         &bundle.SumDBInfo{Name: "sum.golang.org", TreeHead: "42 abc="},
		Modules: []bundle.Module{
			mod("modferry.test/held", "v1.0.0", zh),
			mod("modferry.test/modonly", "v1.0.0", ""),
			mod("modferry.test/gains-zip", "v1.0.0", zh),
			mod("modferry.test/new", "v1.0.0", zh),
			mod(tc.Path, tc.Version, zh),
		},
	}
	for _, v := range []string{"held", "gains-zip", "new"} {
		name, _ := bundle.DownloadPath(module.Version{Path: "modferry.test/" + v, Version: "v1.0.0"}, modfiles.Zip)
		m.Files = append(m.Files, bundle.File{Path: name, Size: 1000, SHA256: strings.Repeat("0", 64)})
	}
	h := &bundle.Head{Manifest: m}
	r := inspect.New("b", 0, h)
	if len(r.Toolchains) != 1 || r.Toolchains[0] != "go1.27.0.linux-amd64" || r.SumDB.TreeHead != "42 abc=" || r.Base != m.BaseInventory || r.Signatures.Minisign {
		t.Errorf("report: %+v", r)
	}
	invJSON := `{"formatVersion":1,"created":"2026-01-01T00:00:00Z","modules":[
		{"path":"modferry.test/held","version":"v1.0.0","zipHash":"` + zh + `","modHash":"` + m.Modules[0].ModHash + `"},
		{"path":"modferry.test/modonly","version":"v1.0.0","modHash":"` + m.Modules[0].ModHash + `"},
		{"path":"modferry.test/gains-zip","version":"v1.0.0","modHash":"` + m.Modules[0].ModHash + `"}],"bundles":[]}`
	inv, err := inventory.Parse([]byte(invJSON))
	if err != nil {
		t.Fatal(err)
	}
	r.Compare(h, inv, m.BaseInventory)
	a := r.Against
	if !a.BaseMatches || a.Held != 2 || len(a.New) != 3 || a.NewBytes != 2000 || len(a.Conflicts) != 0 {
		t.Errorf("against: %+v", a)
	}
	// JSON escapes what an untrusted manifest says.
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("<script")) || !bytes.Contains(out, []byte(`\u003cscript\u003e`)) {
		t.Errorf("JSON does not escape the project name: %s", out)
	}
	var back inspect.Report
	if err := json.Unmarshal(out, &back); err != nil || back.Projects[0].Path != "/src/"+hostile {
		t.Errorf("round trip: %v %+v", err, back.Projects)
	}
}

// BenchmarkReadHead100MB inspects a bundle of about 100 MB: 500 modules
// of 200 KiB of incompressible data, so the manifest lists 1,500 files.
func BenchmarkReadHead100MB(b *testing.B) {
	key, _ := bundletest.NewKey(b)
	file := filepath.Join(b.TempDir(), "b.tar.zst")
	bundletest.Write(b, file, bundletest.RandomModules(3, 500, 200<<10), key)
	fi, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/1e6, "bundleMB")
	for b.Loop() {
		f, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		h, err := bundle.ReadHead(f)
		if err != nil {
			b.Fatal(err)
		}
		inspect.New(file, fi.Size(), h)
		f.Close()
	}
}
