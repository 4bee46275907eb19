package bundle_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/modfiles"
	"golang.org/x/mod/module"
)

func TestRoundTrip(t *testing.T) {
	k := newTestKey(t)
	s := sampleSource(t)
	b := writeBundle(t, s, k)

	// Writing is deterministic for a given manifest and signature.
	sig := k.sign(t, s.Manifest)
	var b1, b2 bytes.Buffer
	if err := bundle.Write(context.Background(), &b1, s.Manifest, bundle.Signatures{Minisign: sig}, s.Open); err != nil {
		t.Fatal(err)
	}
	if err := bundle.Write(context.Background(), &b2, s.Manifest, bundle.Signatures{Minisign: sig}, s.Open); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("two writes of the same bundle differ")
	}

	m, stage, err := readBundle(t, b, k)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want, _ := s.Manifest.Marshal()
	got, _ := m.Marshal()
	if !bytes.Equal(got, want) {
		t.Errorf("manifest changed in the round trip:\n%s\nwant\n%s", got, want)
	}
	for name, data := range s.Contents {
		local, err := stage.LocalPath(name)
		if err != nil {
			t.Errorf("staged %s: %v", name, err)
			continue
		}
		staged, err := os.ReadFile(local)
		if err != nil {
			t.Errorf("staged %s: %v", name, err)
			continue
		}
		if !bytes.Equal(staged, data) {
			t.Errorf("staged %s differs", name)
		}
	}

	// Member order: manifest, signature, then canonical file order.
	tr := tar.NewReader(bytes.NewReader(decompress(t, b)))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	wantNames := []string{bundle.ManifestName, bundle.SignatureName, bundle.SBOMCycloneDX, bundle.SBOMSPDX}
	if strings.Join(names[:4], " ") != strings.Join(wantNames, " ") {
		t.Errorf("members start %v, want %v", names[:4], wantNames)
	}
	if !strings.HasPrefix(names[len(names)-1], "sumdb/") {
		t.Errorf("last member %s, want a sumdb/ file", names[len(names)-1])
	}

	// A nil stage verifies without keeping anything.
	if _, err := bundle.Read(context.Background(), bytes.NewReader(b), bundle.ReadOptions{Verify: k.verify}); err != nil {
		t.Errorf("Read with nil Stage: %v", err)
	}
	// Unsigned bundles need AllowUnsigned.
	var ub bytes.Buffer
	if err := bundle.Write(context.Background(), &ub, s.Manifest, bundle.Signatures{}, s.Open); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Read(context.Background(), bytes.NewReader(ub.Bytes()), bundle.ReadOptions{AllowUnsigned: true}); err != nil {
		t.Errorf("unsigned bundle with AllowUnsigned: %v", err)
	}
	if _, _, err := readBundle(t, ub.Bytes(), k); !errors.Is(err, bundle.ErrUnsigned) {
		t.Errorf("unsigned bundle: got %v, want ErrUnsigned", err)
	}
}

func TestTarListsBundle(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Fatalf("tar --zstd needs the zstd tool (apt-get install zstd): %v", err)
	}
	k := newTestKey(t)
	s := sampleSource(t)
	f := filepath.Join(t.TempDir(), "b.tar.zst")
	if err := os.WriteFile(f, writeBundle(t, s, k), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tar", "--zstd", "-tvf", f).CombinedOutput()
	if err != nil {
		t.Fatalf("tar --zstd -tvf: %v\n%s", err, out)
	}
	for _, name := range append([]string{bundle.ManifestName, bundle.SignatureName}, filesOf(s.Manifest)...) {
		if !strings.Contains(string(out), " "+name+"\n") {
			t.Errorf("tar listing lacks %s:\n%s", name, out)
		}
	}
	if !strings.Contains(string(out), "-rw-r--r--") || !strings.Contains(string(out), "2025-03-04") {
		t.Errorf("tar listing lacks mode or mtime:\n%s", out)
	}
	// And it extracts to the same bytes.
	dir := t.TempDir()
	if out, err := exec.Command("tar", "--zstd", "-xf", f, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	for name, data := range s.Contents {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("tar extracted %s wrongly: %v", name, err)
		}
	}
}

func filesOf(m *bundle.Manifest) []string {
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Path)
	}
	return names
}

func TestWriteChecksSources(t *testing.T) {
	s := sampleSource(t)
	name := s.Manifest.Files[0].Path
	for _, tc := range []struct {
		desc string
		data []byte
		want error
	}{
		{"longer", append(bytes.Clone(s.Contents[name]), 'x'), bundle.ErrSizeMismatch},
		{"shorter", s.Contents[name][:len(s.Contents[name])-1], bundle.ErrSizeMismatch},
		{"changed", append([]byte{'X'}, s.Contents[name][1:]...), bundle.ErrHashMismatch},
	} {
		s2 := *s
		s2.Contents = map[string][]byte{}
		for k, v := range s.Contents {
			s2.Contents[k] = v
		}
		s2.Contents[name] = tc.data
		err := bundle.Write(context.Background(), new(bytes.Buffer), s2.Manifest, bundle.Signatures{}, s2.Open)
		var me *bundle.MemberError
		if !errors.Is(err, tc.want) || !errors.As(err, &me) || me.Path != name {
			t.Errorf("%s source: got %v, want %v for %s", tc.desc, err, tc.want, name)
		}
	}
}

// hostileZip returns a zip that modzip.CheckZip rejects, with a ZipHash
// (any well-formed h1: where the zip cannot even be hashed).
func hostileZip(t *testing.T, mv module.Version, kind string) []byte {
	t.Helper()
	prefix := mv.Path + "@" + mv.Version + "/"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, data string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	switch kind {
	case "dotdot":
		add(prefix+"go.mod", "module "+mv.Path+"\n")
		add(prefix+"a/../b.go", "package b\n")
	case "case":
		add(prefix+"go.mod", "module "+mv.Path+"\n")
		add(prefix+"File.go", "package a\n")
		add(prefix+"file.go", "package a\n")
	case "prefix":
		add("other.com/x@v1.0.0/go.mod", "module other.com/x\n")
	case "huge":
		add(prefix+"go.mod", "module "+mv.Path+"\n")
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name:               prefix + "big.dat",
			Method:             zip.Store,
			CompressedSize64:   4,
			UncompressedSize64: 600 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("tiny"))
	default:
		t.Fatalf("unknown hostile zip %q", kind)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHostileBundles(t *testing.T) {
	k := newTestKey(t)
	other := newTestKey(t)
	base := sampleSource(t)
	good := entries(t, base, k)
	firstFile := good[2]
	zipIdx := -1
	for i, e := range good {
		if strings.HasSuffix(e.name, ".zip") {
			zipIdx = i
			break
		}
	}

	with := func(mod func(es []entry) []entry) []byte {
		es := append([]entry(nil), good...)
		return compress(t, rawTar(t, mod(es)))
	}
	hdr := func(name string, typ byte, size int64) *tar.Header {
		h := bundle.TarHeader(name, size, testCreated)
		h.Typeflag = typ
		return h
	}
	// withZip returns a bundle whose first zip is replaced by z, with a
	// manifest updated to match and signed.
	withZip := func(z []byte) []byte {
		s := bundletest.NewSource(new(bundle.Manifest))
		*s.Manifest = *base.Manifest
		s.Manifest.Files = nil
		s.Manifest.Modules = append([]bundle.Module(nil), base.Manifest.Modules...)
		for _, f := range base.Manifest.Files {
			data := base.Contents[f.Path]
			if f.Path == good[zipIdx].name {
				data = z
			}
			s.Add(t, f.Path, data)
		}
		mem, _ := bundle.ParseMemberPath(good[zipIdx].name)
		for i := range s.Manifest.Modules {
			if s.Manifest.Modules[i].ModuleVersion() == mem.Module {
				s.Manifest.Modules[i].ZipHash = modfiles.HashMod([]byte("not hashable")) // well-formed, wrong
			}
		}
		return compress(t, rawTar(t, entries(t, s, k)))
	}
	zipMod, _ := bundle.ParseMemberPath(good[zipIdx].name)

	tests := []struct {
		desc   string
		bundle []byte
		want   error
		member string // "" when the error names no member
	}{
		{"path traversal", with(func(es []entry) []entry {
			return append(es, entry{name: "download/../../etc/passwd", data: []byte("x")})
		}), bundle.ErrUnsafePath, "download/../../etc/passwd"},
		{"absolute path", with(func(es []entry) []entry {
			return append(es, entry{name: "/etc/passwd", data: []byte("x")})
		}), bundle.ErrUnsafePath, "/etc/passwd"},
		{"backslash", with(func(es []entry) []entry {
			return append(es, entry{name: `download\x`, data: []byte("x")})
		}), bundle.ErrUnsafePath, `download\x`},
		{"symlink", with(func(es []entry) []entry {
			h := hdr(firstFile.name, tar.TypeSymlink, 0)
			h.Linkname = "/etc/passwd"
			es[2] = entry{name: firstFile.name, hdr: h}
			return es
		}), bundle.ErrNotRegular, firstFile.name},
		{"hardlink", with(func(es []entry) []entry {
			h := hdr(firstFile.name, tar.TypeLink, 0)
			h.Linkname = bundle.ManifestName
			es[2] = entry{name: firstFile.name, hdr: h}
			return es
		}), bundle.ErrNotRegular, firstFile.name},
		{"device", with(func(es []entry) []entry {
			es[2] = entry{name: firstFile.name, hdr: hdr(firstFile.name, tar.TypeChar, 0)}
			return es
		}), bundle.ErrNotRegular, firstFile.name},
		{"directory", with(func(es []entry) []entry {
			return append(es[:2:2], append([]entry{{name: "download", hdr: hdr("download/", tar.TypeDir, 0)}}, es[2:]...)...)
		}), bundle.ErrUnsafePath, "download/"},
		{"duplicate member", with(func(es []entry) []entry {
			return append(es, firstFile)
		}), bundle.ErrDuplicate, firstFile.name},
		{"second manifest", with(func(es []entry) []entry {
			return append(es, es[0])
		}), bundle.ErrDuplicate, bundle.ManifestName},
		{"member larger than declared", with(func(es []entry) []entry {
			es[2] = entry{name: firstFile.name, data: append(bytes.Clone(firstFile.data), "extra"...)}
			return es
		}), bundle.ErrTooLarge, firstFile.name},
		{"member smaller than declared", with(func(es []entry) []entry {
			es[2] = entry{name: firstFile.name, data: firstFile.data[:len(firstFile.data)-1]}
			return es
		}), bundle.ErrSizeMismatch, firstFile.name},
		{"member content changed", with(func(es []entry) []entry {
			d := bytes.Clone(firstFile.data)
			d[0] ^= 1
			es[2] = entry{name: firstFile.name, data: d}
			return es
		}), bundle.ErrHashMismatch, firstFile.name},
		{"missing member", with(func(es []entry) []entry {
			return append(es[:2:2], es[3:]...)
		}), bundle.ErrMissingMember, firstFile.name},
		{"extra member", with(func(es []entry) []entry {
			return append(es, entry{name: "download/example.com/extra/@v/v1.0.0.mod", data: []byte("module example.com/extra\n")})
		}), bundle.ErrNotInManifest, "download/example.com/extra/@v/v1.0.0.mod"},
		{"unknown member name", with(func(es []entry) []entry {
			return append(es, entry{name: "README", data: []byte("hi")})
		}), bundle.ErrUnsafePath, "README"},
		{"member before manifest", with(func(es []entry) []entry {
			return append([]entry{firstFile}, es...)
		}), bundle.ErrManifestFirst, firstFile.name},
		{"signature before manifest", with(func(es []entry) []entry {
			es[0], es[1] = es[1], es[0]
			return es
		}), bundle.ErrManifestFirst, bundle.SignatureName},
		{"bad signature", with(func(es []entry) []entry {
			es[1] = entry{name: bundle.SignatureName, data: other.sign(t, base.Manifest)}
			return es
		}), bundle.ErrBadSignature, bundle.SignatureName},
		{"unsigned", with(func(es []entry) []entry {
			return append(es[:1:1], es[2:]...)
		}), bundle.ErrUnsigned, ""},
		{"non-canonical header (uid)", with(func(es []entry) []entry {
			h := bundle.TarHeader(firstFile.name, int64(len(firstFile.data)), testCreated)
			h.Uid = 1000
			es[2].hdr = h
			return es
		}), bundle.ErrNonCanonical, firstFile.name},
		{"non-canonical header (PAX name override)", with(func(es []entry) []entry {
			h := bundle.TarHeader(firstFile.name, int64(len(firstFile.data)), testCreated)
			h.Format = tar.FormatPAX
			h.PAXRecords = map[string]string{"comment": "x"}
			es[2].hdr = h
			return es
		}), bundle.ErrNonCanonical, firstFile.name},
		{"zip with a/../b", withZip(hostileZip(t, zipMod.Module, "dotdot")), bundle.ErrBadZip, good[zipIdx].name},
		{"zip with case collision", withZip(hostileZip(t, zipMod.Module, "case")), bundle.ErrBadZip, good[zipIdx].name},
		{"zip with wrong prefix", withZip(hostileZip(t, zipMod.Module, "prefix")), bundle.ErrBadZip, good[zipIdx].name},
		{"zip declaring 600 MB", withZip(hostileZip(t, zipMod.Module, "huge")), bundle.ErrBadZip, good[zipIdx].name},
		{"zip hash mismatch", withZip(good[zipIdx].data), bundle.ErrHashMismatch, good[zipIdx].name},
		{"trailing data", append(with(func(es []entry) []entry { return es }), compress(t, []byte("more"))...), bundle.ErrNonCanonical, ""},
		// What the decoder alone would skip or decode to nothing.
		{"skippable frame after", append(with(func(es []entry) []entry { return es }), 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'e', 'v', 'i', 'l'), bundle.ErrNonCanonical, ""},
		{"empty frame after", append(with(func(es []entry) []entry { return es }), compress(t, nil)...), bundle.ErrNonCanonical, ""},
		{"one byte after", append(with(func(es []entry) []entry { return es }), 0), bundle.ErrNonCanonical, ""},
		{"cut in the checksum", func() []byte { b := with(func(es []entry) []entry { return es }); return b[:len(b)-2] }(), bundle.ErrCorrupt, ""},
		{"garbage", []byte("this is not a bundle at all"), bundle.ErrNonCanonical, ""},
		{"empty", nil, bundle.ErrCorrupt, ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, stage, err := readBundle(t, tc.bundle, k)
			dir := stage.Dir()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !errors.Is(err, bundle.ErrInvalid) {
				t.Errorf("error %q does not match ErrInvalid", err)
			}
			var me *bundle.MemberError
			if tc.member != "" && (!errors.As(err, &me) || me.Path != tc.member) {
				t.Errorf("error %q does not name member %q", err, tc.member)
			}
			t.Logf("%v", err)
			// Nothing was written outside the stage.
			if _, err := os.Lstat(filepath.Join(dir, "..", "etc")); err == nil {
				t.Errorf("a file escaped the stage directory")
			}
		})
	}
}

func TestUnsafeNames(t *testing.T) {
	bad := []string{
		"", "/abs", "a//b", "./MANIFEST.json", "download/./x", "download/../x", `a\b`,
		"download/example.com/x/@v/v1.0.0.tar", "download/example.com/x/@v/list",
		"download/example.com/X/@v/v1.0.0.mod", // not escaped
		"download/example.com/x/@v/v1.0.mod",   // not canonical
		"download/example.com/x/@v/v2.0.0.mod", // major version mismatch
		"download/example.com/x/v2/@v/v2.0.0+incompatible.mod",
		"download/example.com/x/@v/v1.0.0.mod/x",
		"download/x/@v/v1.0.0.mod", // no dot in first element
		"sumdb/sum.golang.org/other", "sumdb/Sum/latest", "sumdb/sum.golang.org/tile/8/0/x1/002",
		"sumdb/sum.golang.org/lookup/example.com/x", "MANIFEST.json/", "sbom.cdx.json\x00",
		"download/example.com/x/@v/v1.0.0.mod\n",
	}
	for _, name := range bad {
		if _, err := bundle.ParseMemberPath(name); !errors.Is(err, bundle.ErrUnsafePath) {
			t.Errorf("ParseMemberPath(%q) = %v, want ErrUnsafePath", name, err)
		}
	}
	good := []string{
		bundle.ManifestName, bundle.SignatureName, bundle.SBOMSPDX, bundle.SBOMCycloneDX,
		"download/example.com/!x/@v/v1.0.0.zip",
		"download/example.com/x/@v/v2.0.0+incompatible.info",
		"download/example.com/x/v2/@v/v2.1.0-rc.1.mod",
		"download/golang.org/toolchain/@v/v0.0.1-go1.22.0.linux-amd64.zip",
		"download/gopkg.in/yaml.v3/@v/v3.0.1.mod",
		"sumdb/sum.golang.org/latest", "sumdb/sum.golang.org/tile/8/0/x001/234.p/5",
		"sumdb/sum.golang.org/tile/8/data/000", "sumdb/sum.golang.org/lookup/example.com/!x@v1.0.0",
	}
	for _, name := range good {
		if _, err := bundle.ParseMemberPath(name); err != nil {
			t.Errorf("ParseMemberPath(%q) = %v, want ok", name, err)
		}
	}
}
