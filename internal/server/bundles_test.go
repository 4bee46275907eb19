package server

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/sign"
	"github.com/modferry/modferry/internal/tinyfs"
	"github.com/modferry/modferry/internal/trust"
)

// bundleFixture is a fixture whose server trusts a key, with a bundle of
// n random modules of size bytes signed by it.
func bundleFixture(t *testing.T, cfg Config, n, size int) (*fixture, string, []byte) {
	t.Helper()
	key, pub := bundletest.NewKey(t)
	cfg.BundleTrust = trust.Policy{Keys: &trust.Keys{Minisign: []sign.PublicKey{pub}}}
	f := newFixture(t, cfg)
	w := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	bundletest.Write(t, b, bundletest.RandomModules(5, n, size), key)
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return f, w, data
}

// noLeftovers fails if an upload left files in the store's scratch areas.
func noLeftovers(t *testing.T, f *fixture) {
	t.Helper()
	for _, d := range []string{UploadsDir, importer.StagingDir} {
		if ents, _ := os.ReadDir(filepath.Join(f.root, d)); len(ents) != 0 {
			t.Errorf("%s holds %d entries after the upload", d, len(ents))
		}
	}
}

// countingZeros is an endless body of zeros that counts what was read.
type countingZeros struct {
	mu sync.Mutex
	n  int64
}

func (z *countingZeros) Read(p []byte) (int, error) {
	clear(p)
	z.mu.Lock()
	z.n += int64(len(p))
	z.mu.Unlock()
	return len(p), nil
}

// TestBundleUploadRejectedAtFirstBadByte: a body of zeros (3 GB in the
// probe) is refused after its first bytes, not stored first.
func TestBundleUploadRejectedAtFirstBadByte(t *testing.T) {
	f, w, _ := bundleFixture(t, Config{}, 1, 100)
	z := &countingZeros{}
	resp := f.do(req{method: "POST", path: api.BundlesPath, token: w, body: io.LimitReader(z, 3<<30)})
	wantCode(t, resp, 400, "zeros")
	if !strings.Contains(resp.Body.String(), "not a zstd stream") {
		t.Errorf("body: %s", resp.Body)
	}
	t.Logf("refused after reading %d bytes of a 3 GiB body", z.n)
	if z.n > 1<<20 {
		t.Errorf("read %d bytes of a body that is bad from its first byte", z.n)
	}
	noLeftovers(t, f)
}

func TestBundleUploadLimits(t *testing.T) {
	f, w, data := bundleFixture(t, Config{MaxBundleBytes: 64 << 10}, 3, 40<<10)
	if len(data) <= 64<<10 {
		t.Fatalf("test bundle of %d bytes is not over the limit", len(data))
	}
	// Over the size limit, with and without a Content-Length.
	resp := f.do(req{method: "POST", path: api.BundlesPath, token: w, body: bytes.NewReader(data)})
	wantCode(t, resp, http.StatusRequestEntityTooLarge, "declared size over the limit")
	resp = f.do(req{method: "POST", path: api.BundlesPath, token: w, body: io.MultiReader(bytes.NewReader(data))})
	wantCode(t, resp, http.StatusRequestEntityTooLarge, "streamed size over the limit")
	noLeftovers(t, f)

	// Below the free-space floor: refused from the Content-Length, and,
	// without one, as soon as the manifest tells the size.
	f, w, data = bundleFixture(t, Config{MinFreeBytes: 1 << 62}, 1, 1000)
	resp = f.do(req{method: "POST", path: api.BundlesPath, token: w, body: bytes.NewReader(data)})
	wantCode(t, resp, http.StatusInsufficientStorage, "declared size below the floor")
	resp = f.do(req{method: "POST", path: api.BundlesPath, token: w, body: io.MultiReader(bytes.NewReader(data))})
	wantCode(t, resp, http.StatusInsufficientStorage, "streamed bundle below the floor")
	if !strings.Contains(resp.Body.String(), "min-free-space") {
		t.Errorf("507 body: %s", resp.Body)
	}
	noLeftovers(t, f)
}

// TestBundleUploadConcurrency: beyond MaxUploads, 429 with Retry-After;
// a good upload then works.
func TestBundleUploadConcurrency(t *testing.T) {
	f, w, data := bundleFixture(t, Config{MaxUploads: 1}, 2, 1000)
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- f.do(req{method: "POST", path: api.BundlesPath, token: w, body: pr}).Code
	}()
	pw.Write(data[:100]) // the first upload is now being received
	resp := f.do(req{method: "POST", path: api.BundlesPath, token: w, body: bytes.NewReader(data)})
	wantCode(t, resp, http.StatusTooManyRequests, "second upload")
	if resp.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	pw.Write(data[100:])
	pw.Close()
	if code := <-done; code != 200 {
		t.Fatalf("first upload: %d", code)
	}
	resp = f.do(req{method: "POST", path: api.BundlesPath, token: w, body: bytes.NewReader(data)})
	wantCode(t, resp, 200, "upload after the first")
	noLeftovers(t, f)
}

// TestBundleUploadDiskFull: the store's disk fills during an upload; the
// answer is 507 with an ERROR log line, never 400 "corrupt bundle".
func TestBundleUploadDiskFull(t *testing.T) {
	tinyfs.Run(t, "TestHelperBundleUploadDiskFull", 1<<20)
}

func TestHelperBundleUploadDiskFull(t *testing.T) {
	dir := tinyfs.Dir()
	if dir == "" {
		t.Skip("run by TestBundleUploadDiskFull")
	}
	key, pub := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "b.tar.zst") // on the real disk
	bundletest.Write(t, b, bundletest.RandomModules(5, 6, 400<<10), key)
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", dir)
	// In a subtest, whose t.TempDir (the fixture's store) is then on the
	// tiny filesystem.
	t.Run("store on a full disk", func(t *testing.T) {
		f := newFixture(t, Config{MinFreeBytes: -1, BundleTrust: trust.Policy{Keys: &trust.Keys{Minisign: []sign.PublicKey{pub}}}})
		if !strings.HasPrefix(f.root, dir) {
			t.Fatalf("store %s is not on the tiny filesystem %s", f.root, dir)
		}
		w := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
		var logBuf bytes.Buffer
		var mu sync.Mutex
		f.srv.log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logBuf}, nil))
		resp := f.do(req{method: "POST", path: api.BundlesPath, token: w, body: bytes.NewReader(data)})
		t.Logf("answer: %d %s", resp.Code, resp.Body)
		wantCode(t, resp, http.StatusInsufficientStorage, "upload onto a full disk")
		if strings.Contains(resp.Body.String(), "corrupt") {
			t.Errorf("a full disk is blamed on the bundle: %s", resp.Body)
		}
		mu.Lock()
		logged := logBuf.String()
		mu.Unlock()
		if !strings.Contains(logged, "level=ERROR") || !strings.Contains(logged, "no space left on device") {
			t.Errorf("no ERROR log line naming the full disk:\n%s", logged)
		}
		noLeftovers(t, f)
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestPublishDiskFull: the store's disk fills while a zip is published:
// 507, never 400 or 500.
func TestPublishDiskFull(t *testing.T) {
	tinyfs.Run(t, "TestHelperPublishDiskFull", 1<<20)
}

func TestHelperPublishDiskFull(t *testing.T) {
	dir := tinyfs.Dir()
	if dir == "" {
		t.Skip("run by TestPublishDiskFull")
	}
	v := module.Version{Path: "corp.example/full", Version: "v1.0.0"}
	data := make([]byte, 2<<20)
	rand.Read(data)
	body, ct := upload(t, v, "module corp.example/full\n", map[string]string{"go.mod": "module corp.example/full\n", "data.bin": string(data)})
	t.Setenv("TMPDIR", dir)
	t.Run("store on a full disk", func(t *testing.T) {
		f := newFixture(t, Config{MinFreeBytes: -1})
		w := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
		resp := f.do(req{method: "PUT", path: "/api/v1/modules/corp.example/full/@v/v1.0.0", token: w, body: body, contentType: ct})
		t.Logf("answer: %d %s", resp.Code, resp.Body)
		wantCode(t, resp, http.StatusInsufficientStorage, "publish onto a full disk")
		noLeftovers(t, f)
	})
}

// TestBundleUploadRefused: a bundle signed by a key the server does not
// trust, and one with a changed byte, are client errors (400).
func TestBundleUploadRefused(t *testing.T) {
	f, w, data := bundleFixture(t, Config{}, 2, 1000)
	other, _ := bundletest.NewKey(t)
	b := filepath.Join(t.TempDir(), "other.tar.zst")
	bundletest.Write(t, b, bundletest.RandomModules(6, 2, 1000), other)
	foreign, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x55
	for name, body := range map[string][]byte{"untrusted key": foreign, "changed byte": flipped} {
		resp := f.do(req{method: "POST", path: api.BundlesPath, token: w, body: bytes.NewReader(body)})
		wantCode(t, resp, http.StatusBadRequest, name)
	}
	noLeftovers(t, f)
}

func TestIsBundleError(t *testing.T) {
	v := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	head := &checksumdb.Head{}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("upload: %w", &bundle.MemberError{Path: "download/x", Err: bundle.ErrHashMismatch}), true},
		{&bundle.MemberError{Path: "vulndb/", Err: errors.New("no index")}, true},
		{fmt.Errorf("%w: data after the end of the zstd frame", bundle.ErrNonCanonical), true},
		{fmt.Errorf("%w: %w", bundle.ErrBadSignature, sign.ErrUnknownKey), true},
		{&checksumdb.MismatchError{Module: v}, true},
		{&importer.SumDBKeyError{Name: "sum.golang.org", Key: "k"}, true},
		{&checksumdb.IncompleteError{Missing: []string{"latest"}, Err: errors.New("x")}, true},
		{&checksumdb.UnprovableError{Held: head, Imported: head, Err: errors.New("x")}, true},
		{&checksumdb.RecordError{File: "lookup/x", Err: errors.New("x")}, true},
		{errors.New("disk full"), false},
		{fmt.Errorf("staging x: %w", fs.ErrPermission), false},
		{sign.ErrUnknownKey, false}, // only as the bundle's signature (bundle.ErrBadSignature)
	} {
		if got := isBundleError(tc.err); got != tc.want {
			t.Errorf("isBundleError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
