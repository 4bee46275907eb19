package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/memzip"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/sign"
)

// testMod describes a module of a test bundle.
type testMod struct {
	path, version string
	files         map[string]string // zip content; nil: bundle only the .mod
	noInfo        bool
}

// source is what a bundle is written from: a manifest (unsigned) and the
// contents of every file it lists.
type source struct {
	m        *Manifest
	contents map[string][]byte
}

func (s *source) open(name string) (io.ReadCloser, error) {
	data, ok := s.contents[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// add adds a member with the given content to s and its manifest.
func (s *source) add(t testing.TB, name string, data []byte) {
	t.Helper()
	f, err := HashReader(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s.m.Files = append(s.m.Files, f)
	s.contents[name] = data
}

var testCreated = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func makeZip(t testing.TB, mv module.Version, files map[string]string) []byte {
	t.Helper()
	bf := make(map[string][]byte, len(files))
	for n, d := range files {
		bf[n] = []byte(d)
	}
	b, err := memzip.Bytes(mv, bf)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zipHash(t testing.TB, zipData []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(f, zipData, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := modfiles.HashZip(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// addModule adds a module's .info, .mod and (with files) .zip.
func (s *source) addModule(t testing.TB, tm testMod) {
	t.Helper()
	mv := module.Version{Path: tm.path, Version: tm.version}
	gomod := []byte("module " + tm.path + "\n\ngo 1.22\n")
	if tm.files != nil {
		if _, ok := tm.files["go.mod"]; !ok {
			tm.files["go.mod"] = string(gomod)
		}
		gomod = []byte(tm.files["go.mod"])
	}
	mod := Module{Path: tm.path, Version: tm.version, ModHash: modfiles.HashMod(gomod)}
	p, err := DownloadPath(mv, modfiles.Mod)
	if err != nil {
		t.Fatal(err)
	}
	s.add(t, p, gomod)
	if !tm.noInfo {
		p, _ := DownloadPath(mv, modfiles.Info)
		s.add(t, p, []byte(fmt.Sprintf("{\"Version\":%q,\"Time\":\"2024-01-02T03:04:05Z\"}\n", tm.version)))
	}
	if tm.files != nil {
		z := makeZip(t, mv, tm.files)
		mod.ZipHash = zipHash(t, z)
		p, _ := DownloadPath(mv, modfiles.Zip)
		s.add(t, p, z)
	}
	s.m.Modules = append(s.m.Modules, mod)
}

// sampleSource returns a small bundle source touching every member kind.
func sampleSource(t testing.TB) *source {
	t.Helper()
	s := &source{
		m: &Manifest{
			FormatVersion: FormatVersion,
			Created:       testCreated,
			ToolVersion:   "modferry test",
			Projects:      []Project{{Path: "/src/app", VCSRevision: "0123abcd", GoSumSHA256: sha256Hex("go.sum")}},
			SumDB:         &SumDBInfo{Name: "sum.golang.org", TreeHead: "go.sum database tree\n"[:20]},
		},
		contents: map[string][]byte{},
	}
	s.addModule(t, testMod{path: "example.com/Hello", version: "v1.2.3", files: map[string]string{
		"hello.go":     "package hello\n\nfunc Hello() string { return \"hello\" }\n",
		"LICENSE":      "MIT\n",
		"sub/thing.go": "package sub\n",
	}})
	s.addModule(t, testMod{path: "example.com/hello/v2", version: "v2.0.0-20240102030405-abcdefabcdef", files: map[string]string{
		"v2.go": "package hello\n",
	}})
	s.addModule(t, testMod{path: "example.com/modonly", version: "v0.1.0", noInfo: true})
	s.add(t, SBOMCycloneDX, []byte(`{"bomFormat":"CycloneDX"}`+"\n"))
	s.add(t, SBOMSPDX, []byte(`{"spdxVersion":"SPDX-2.3"}`+"\n"))
	s.add(t, "sumdb/sum.golang.org/latest", []byte("go.sum database tree\n42\nAAAA\n"))
	s.add(t, "sumdb/sum.golang.org/lookup/example.com/!hello@v1.2.3", []byte("7\nexample.com/Hello v1.2.3 h1:x\n"))
	s.add(t, "sumdb/sum.golang.org/tile/8/0/000.p/42", bytes.Repeat([]byte{7}, 42*32))
	return s
}

func sha256Hex(s string) string {
	f, _ := HashReader("", bytes.NewReader([]byte(s)))
	return f.SHA256
}

// testKey is a signing key and the trusted public keys for it.
type testKey struct {
	priv sign.PrivateKey
	pub  []sign.PublicKey
}

func newTestKey(t testing.TB) testKey {
	t.Helper()
	priv, _, err := sign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.ParsePrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv: k, pub: []sign.PublicKey{k.Public()}}
}

func (k testKey) sign(t testing.TB, m *Manifest) []byte {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sign.Sign(k.priv, data)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (k testKey) verify(manifest []byte, sigs Signatures) error {
	_, err := sign.Verify(k.pub, manifest, sigs.Minisign)
	return err
}

// writeBundle writes s as a bundle signed by k.
func writeBundle(t testing.TB, s *source, k testKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, s.m, Signatures{Minisign: k.sign(t, s.m)}, s.open); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readBundle reads b into a fresh stage directory.
func readBundle(t testing.TB, b []byte, k testKey) (*Manifest, *DirStage, error) {
	t.Helper()
	dir := t.TempDir()
	st, err := NewDirStage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := Read(context.Background(), bytes.NewReader(b), ReadOptions{Verify: k.verify, Stage: st})
	return m, st, err
}

// entry is one tar member of a hand-built bundle. A nil hdr means the
// canonical header for name and data.
type entry struct {
	name string
	data []byte
	hdr  *tar.Header
}

// rawTar builds an uncompressed tar stream from entries.
func rawTar(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h == nil {
			h = tarHeader(e.name, int64(len(e.data)), testCreated)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compress compresses an uncompressed tar stream as Write does.
func compress(t testing.TB, tarData []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := newEncoder(&buf, LevelFast)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarData); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decompress returns the tar stream inside a bundle.
func decompress(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := newDecoder(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// entries returns the canonical entries of source s signed by k: manifest,
// signature, then files.
func (s *source) entries(t testing.TB, k testKey) []entry {
	t.Helper()
	data, err := s.m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	es := []entry{{name: ManifestName, data: data}, {name: SignatureName, data: k.sign(t, s.m)}}
	for _, f := range s.m.canonical().Files {
		es = append(es, entry{name: f.Path, data: s.contents[f.Path]})
	}
	return es
}
