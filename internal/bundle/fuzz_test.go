package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
)

func FuzzParseManifest(f *testing.F) {
	s := sampleSource(f)
	good, err := s.Manifest.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"formatVersion":1,"formatVersion":2}`))
	f.Add(bytes.Replace(good, []byte(`"files"`), []byte(`"extra":1,"files"`), 1))
	f.Add(bytes.Replace(good, []byte("download/"), []byte("download/../"), 1))
	empty, _ := (&bundle.Manifest{FormatVersion: 1, Created: testCreated, ToolVersion: "t"}).Marshal()
	f.Add(empty)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := bundle.ParseManifest(data)
		if err != nil {
			if !errors.Is(err, bundle.ErrInvalid) || !errors.Is(err, bundle.ErrBadManifest) {
				t.Fatalf("ParseManifest error %q matches neither ErrInvalid nor ErrBadManifest", err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("accepted manifest does not re-encode to itself: %v", err)
		}
		for _, fl := range m.Files {
			if strings.Contains(fl.Path, "..") && !strings.HasPrefix(fl.Path, "sumdb/") && !strings.HasPrefix(fl.Path, "download/") {
				t.Fatalf("accepted path %q", fl.Path)
			}
			if filepath.IsAbs(fl.Path) || !filepath.IsLocal(filepath.FromSlash(fl.Path)) {
				t.Fatalf("accepted non-local path %q", fl.Path)
			}
		}
	})
}

// FuzzRead feeds uncompressed tar streams to the member handling of Read
// (unsigned, so that mutations reach past the signature).
func FuzzRead(f *testing.F) {
	s := sampleSource(f)
	es := entries(f, s, newTestKey(f))
	unsigned := append(es[:1:1], es[2:]...)
	f.Add(rawTar(f, unsigned))
	f.Add(rawTar(f, append(unsigned, entry{name: "../x", data: []byte("x")})))
	f.Add(rawTar(f, append(unsigned, unsigned[1])))
	f.Add(rawTar(f, unsigned[:3]))
	small := bundletest.NewSource(&bundle.Manifest{FormatVersion: 1, Created: testCreated, ToolVersion: "t"})
	small.AddModule(f, bundletest.Module{Path: "example.com/a", Version: "v1.0.0", NoInfo: true})
	ses := entries(f, small, newTestKey(f))
	f.Add(rawTar(f, append(ses[:1:1], ses[2:]...)))

	f.Fuzz(func(t *testing.T, data []byte) {
		st := &memStage{t: t, files: map[string]*bytes.Buffer{}}
		m, err := bundle.ReadTar(context.Background(), bytes.NewReader(data), bundle.ReadOptions{AllowUnsigned: true, Stage: st, Workers: 1})
		if err != nil {
			// The stage is in memory and cannot fail: every error is
			// about the bundle.
			if !errors.Is(err, bundle.ErrInvalid) {
				t.Fatalf("Read error %q does not match ErrInvalid", err)
			}
			return
		}
		// Accepted: the stage holds exactly the listed files, intact.
		if len(st.files) != len(m.Files) {
			t.Fatalf("stage holds %d files, manifest lists %d", len(st.files), len(m.Files))
		}
		for _, fl := range m.Files {
			got := st.files[fl.Path].Bytes()
			sum := sha256.Sum256(got)
			if hex.EncodeToString(sum[:]) != fl.SHA256 {
				t.Fatalf("staged %s does not match the manifest", fl.Path)
			}
		}
	})
}

func FuzzParseMemberPath(f *testing.F) {
	for _, s := range []string{"download/example.com/!a/@v/v1.0.0.zip", "sumdb/sum.golang.org/tile/8/0/x001/002.p/3", "sumdb/x/lookup/a.b/c@v1.0.0", "MANIFEST.json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		mem, err := bundle.ParseMemberPath(name)
		if err != nil {
			return
		}
		if !filepath.IsLocal(name) || strings.Contains(name, `\`) {
			t.Fatalf("accepted %q", name)
		}
		if mem.Kind == bundle.KindDownload {
			if p, err := bundle.DownloadPath(mem.Module, mem.FileKind); err != nil || p != name {
				t.Fatalf("DownloadPath(%v, %s) = %q, %v; want %q", mem.Module, mem.FileKind, p, err, name)
			}
		}
	})
}

// memStage keeps members in memory; LocalPath writes one out on demand.
type memStage struct {
	t     *testing.T
	mu    sync.Mutex
	files map[string]*bytes.Buffer
}

func (s *memStage) Create(name string) (io.WriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[name]; ok {
		return nil, os.ErrExist
	}
	b := new(bytes.Buffer)
	s.files[name] = b
	return nopWriteCloser{b}, nil
}

func (s *memStage) LocalPath(name string) (string, error) {
	s.mu.Lock()
	b := s.files[name]
	s.mu.Unlock()
	f, err := os.CreateTemp(s.t.TempDir(), "member")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.Write(b.Bytes())
	return f.Name(), err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
