package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/sign"
)

var testCreated = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// sampleSource returns a small bundle source touching every member kind.
func sampleSource(t testing.TB) *bundletest.Source {
	t.Helper()
	s := bundletest.NewSource(&bundle.Manifest{
		FormatVersion: bundle.FormatVersion,
		Created:       testCreated,
		ToolVersion:   "modferry test",
		Projects:      []bundle.Project{{Path: "/src/app", VCSRevision: "0123abcd", GoSumSHA256: sha256Hex("go.sum")}},
		SumDB:         &bundle.SumDBInfo{Name: "sum.golang.org", TreeHead: "go.sum database tree\n"[:20]},
	})
	s.AddModule(t, bundletest.Module{Path: "example.com/Hello", Version: "v1.2.3", Files: map[string][]byte{
		"hello.go":     []byte("package hello\n\nfunc Hello() string { return \"hello\" }\n"),
		"LICENSE":      []byte("MIT\n"),
		"sub/thing.go": []byte("package sub\n"),
	}})
	s.AddModule(t, bundletest.Module{Path: "example.com/hello/v2", Version: "v2.0.0-20240102030405-abcdefabcdef", Files: map[string][]byte{
		"v2.go": []byte("package hello\n"),
	}})
	s.AddModule(t, bundletest.Module{Path: "example.com/modonly", Version: "v0.1.0", NoInfo: true})
	s.Add(t, bundle.SBOMCycloneDX, []byte(`{"bomFormat":"CycloneDX"}`+"\n"))
	s.Add(t, bundle.SBOMSPDX, []byte(`{"spdxVersion":"SPDX-2.3"}`+"\n"))
	s.Add(t, "sumdb/sum.golang.org/latest", []byte("go.sum database tree\n42\nAAAA\n"))
	s.Add(t, "sumdb/sum.golang.org/lookup/example.com/!hello@v1.2.3", []byte("7\nexample.com/Hello v1.2.3 h1:x\n"))
	s.Add(t, "sumdb/sum.golang.org/tile/8/0/000.p/42", bytes.Repeat([]byte{7}, 42*32))
	return s
}

func sha256Hex(s string) string {
	f, _ := bundle.HashReader("", bytes.NewReader([]byte(s)))
	return f.SHA256
}

// testKey is a signing key and the trusted public keys for it.
type testKey struct {
	priv sign.PrivateKey
	pub  []sign.PublicKey
}

func newTestKey(t testing.TB) testKey {
	t.Helper()
	priv, pub := bundletest.NewKey(t)
	return testKey{priv: priv, pub: []sign.PublicKey{pub}}
}

func (k testKey) sign(t testing.TB, m *bundle.Manifest) []byte {
	t.Helper()
	return bundletest.Sign(t, k.priv, m)
}

func (k testKey) verify(manifest []byte, sigs bundle.Signatures) error {
	return bundletest.Verifier(k.pub...)(manifest, sigs)
}

// writeBundle writes s as a bundle signed by k.
func writeBundle(t testing.TB, s *bundletest.Source, k testKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bundle.Write(context.Background(), &buf, s.Manifest, bundle.Signatures{Minisign: k.sign(t, s.Manifest)}, s.Open); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readBundle reads b into a fresh stage directory.
func readBundle(t testing.TB, b []byte, k testKey) (*bundle.Manifest, *bundle.DirStage, error) {
	t.Helper()
	dir := t.TempDir()
	st, err := bundle.NewDirStage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := bundle.Read(context.Background(), bytes.NewReader(b), bundle.ReadOptions{Verify: k.verify, Stage: st})
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
			h = bundle.TarHeader(e.name, int64(len(e.data)), testCreated)
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
	zw, err := bundle.NewEncoder(&buf, bundle.LevelFast)
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
	zr, err := bundle.NewDecoder(bytes.NewReader(b))
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
func entries(t testing.TB, s *bundletest.Source, k testKey) []entry {
	t.Helper()
	data, err := s.Manifest.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	es := []entry{{name: bundle.ManifestName, data: data}, {name: bundle.SignatureName, data: k.sign(t, s.Manifest)}}
	for _, f := range s.Manifest.Canonical().Files {
		es = append(es, entry{name: f.Path, data: s.Contents[f.Path]})
	}
	return es
}
