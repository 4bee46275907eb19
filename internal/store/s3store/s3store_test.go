package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/s3store"
	"github.com/modferry/modferry/internal/store/s3store/miniotest"
	"github.com/modferry/modferry/internal/store/storetest"
)

// shared is one MinIO for the tests that do not stop it; each test uses
// its own key prefix.
var shared struct {
	once sync.Once
	srv  *miniotest.Server
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedServer returns the shared MinIO with the environment pointing at
// it, starting it on first use.
func sharedServer(t *testing.T) *miniotest.Server {
	t.Helper()
	bin := miniotest.Require(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "modferry-minio-")
		if shared.err == nil {
			shared.srv, shared.err = miniotest.Launch(bin, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	shared.srv.SetEnv(t)
	return shared.srv
}

var prefixes atomic.Int64

// newStore opens a store on a prefix no other test uses. Its spool
// directory must be empty when the test ends.
func newStore(t *testing.T) *s3store.Store {
	t.Helper()
	u := fmt.Sprintf("s3://%s/t%d-%d", miniotest.Bucket, time.Now().UnixNano(), prefixes.Add(1))
	tmp := t.TempDir()
	t.Cleanup(func() {
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("spool files left behind: %v", ents)
		}
	})
	s, err := s3store.New(context.Background(), u, s3store.Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ url, bucket, prefix string }{
		{"s3://b", "b", ""},
		{"s3://b/", "b", ""},
		{"s3://my-bucket/some/prefix", "my-bucket", "some/prefix"},
		{"s3://my-bucket/some/prefix/", "my-bucket", "some/prefix"},
	} {
		b, p, err := s3store.ParseURL(tc.url)
		if err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tc.url, b, p, err, tc.bucket, tc.prefix)
		}
	}
	for _, bad := range []string{"", "b", "s3:b", "s3:///p", "http://b/p", "s3://b:9000/p", "s3://u@b/p", "s3://b/p?x=1", "s3://b/a/../c", "s3://b/.tmp-x", "s3://b//p"} {
		if _, _, err := s3store.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
	}
}

func TestContract(t *testing.T) {
	sharedServer(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

// TestContractRoot runs the contract on a store that is the whole
// bucket, with no prefix.
func TestContractRoot(t *testing.T) {
	srv := miniotest.Start(t)
	srv.SetEnv(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		bucket := fmt.Sprintf("root%d", n)
		s, err := s3store.New(context.Background(), "s3://"+bucket, s3store.Options{CreateBucket: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestStreaming reads a large object as http.ServeContent does, with
// ranges, and checks that a File never mixes two versions of an object.
func TestStreaming(t *testing.T) {
	sharedServer(t)
	ctx := context.Background()
	s := newStore(t)
	data := make([]byte, 9<<20+123) // larger than the in-memory spool and small-object limits
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	// A plain reader, spooled to a temporary file (larger than the
	// in-memory spool).
	if err := s.Put(ctx, "download/m/@v/v1.0.0.zip", struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := s.Open(r.Context(), "download/m/@v/v1.0.0.zip")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
	}))
	defer srv.Close()
	get := func(rng string) (int, []byte) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if code, b := get(""); code != 200 || !bytes.Equal(b, data) {
		t.Fatalf("whole GET: %d, %d bytes, equal %v", code, len(b), bytes.Equal(b, data))
	}
	if code, b := get("bytes=5000000-5000099"); code != 206 || !bytes.Equal(b, data[5000000:5000100]) {
		t.Fatalf("ranged GET: %d, %d bytes", code, len(b))
	}
	if code, b := get("bytes=-10"); code != 206 || !bytes.Equal(b, data[len(data)-10:]) {
		t.Fatalf("suffix GET: %d, %q", code, b)
	}

	// Open and a short read stream: far less is allocated than the
	// object's size.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := s.Open(ctx, "download/m/@v/v1.0.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(data))/4 {
		t.Fatalf("Open and a 4 KiB read allocated %d bytes for an object of %d", n, len(data))
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != int64(len(data)) || fi.Name() != "v1.0.0.zip" {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if end, err := f.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
		t.Fatalf("Seek to the end = %d, %v", end, err)
	}
	if n, err := f.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v", n, err)
	}
	if _, err := f.Seek(-1000, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[len(data)-1000:len(data)-990]) {
		t.Fatalf("read after Seek: %v", err)
	}
	// Replace the object: a ranged GET of the old version must fail
	// rather than return bytes of the new one.
	if err := s.Put(ctx, "download/m/@v/v1.0.0.zip", bytes.NewReader(data[:len(data)-1])); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(4096, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(buf); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("read of a replaced object: %v, want store.ErrChanged", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(buf); err == nil {
		t.Fatal("Read after Close succeeded")
	}
}

// TestPutSources uploads from the kinds of readers callers pass: a file
// (sent from its current offset, without a copy), and a large stream that
// fails half-way (nothing uploaded).
func TestPutSources(t *testing.T) {
	sharedServer(t)
	ctx := context.Background()
	s := newStore(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 512<<10) // 8 MiB
	p := filepath.Join(t.TempDir(), "staged.zip")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(16, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "from/file", f); err != nil {
		t.Fatal(err)
	}
	if b, err := store.ReadAll(ctx, s, "from/file"); err != nil || !bytes.Equal(b, data[16:]) {
		t.Fatalf("object from a file: %d bytes, %v; want %d", len(b), err, len(data)-16)
	}
	boom := errors.New("boom")
	if err := s.Put(ctx, "from/stream", io.MultiReader(bytes.NewReader(data), errReader{boom})); !errors.Is(err, boom) {
		t.Fatalf("Put of a failing stream: %v, want boom", err)
	}
	if _, err := s.Open(ctx, "from/stream"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed Put left an object: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestUnreachable: an endpoint where nothing listens gives an error that
// names it.
func TestUnreachable(t *testing.T) {
	srv := sharedServer(t) // for credentials; the endpoint is replaced
	_ = srv
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	_, err = s3store.New(context.Background(), "s3://"+miniotest.Bucket, s3store.Options{})
	if !errors.Is(err, s3store.ErrUnavailable) {
		t.Fatalf("New with nothing listening: %v, want ErrUnavailable", err)
	}
	if msg := err.Error(); !strings.Contains(msg, endpoint) || strings.Contains(msg, "\n") {
		t.Fatalf("error does not name the endpoint %s on one line: %s", endpoint, msg)
	}
	t.Log(err)
}

// TestNotS3: an endpoint that is some other HTTP server is not mistaken
// for a missing object or bucket.
func TestNotS3(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	miniotest.SetEnv(t, map[string]string{
		"AWS_ENDPOINT_URL":            srv.URL,
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_REGION":                  "us-east-1",
		"AWS_ACCESS_KEY_ID":           "k",
		"AWS_SECRET_ACCESS_KEY":       "s",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	})
	_, err := s3store.New(context.Background(), "s3://b", s3store.Options{})
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, s3store.ErrNoBucket) {
		t.Fatalf("New on a plain HTTP server: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, srv.URL) || !strings.Contains(msg, "404") {
		t.Fatalf("error does not name the endpoint and its answer: %s", msg)
	}
	t.Log(err)
}

// TestStopAndRecover stops MinIO under an open store: requests fail with
// an error naming the endpoint, then work again once MinIO is back, with
// the same store.
func TestStopAndRecover(t *testing.T) {
	srv := miniotest.Start(t)
	srv.SetEnv(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	ctx := context.Background()
	s, err := s3store.New(ctx, "s3://"+miniotest.Bucket+"/recover", s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a/b", strings.NewReader("kept")); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("modferry"), 4<<20) // 32 MiB: more than socket buffers hold
	if err := s.Put(ctx, "a/big", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}

	// Killed in the middle of a read: the read fails.
	f, err := s.Open(ctx, "a/big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	n, err := io.Copy(io.Discard, f)
	if !errors.Is(err, s3store.ErrUnavailable) || !strings.Contains(err.Error(), srv.Endpoint) {
		t.Fatalf("read of %d more bytes with MinIO killed: %v, want ErrUnavailable naming %s", n, err, srv.Endpoint)
	}
	t.Logf("read with MinIO killed: %v", err)
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Open(ctx, "a/b")
	if !errors.Is(err, s3store.ErrUnavailable) || !strings.Contains(err.Error(), srv.Endpoint) {
		t.Fatalf("Open with MinIO stopped: %v, want ErrUnavailable naming %s", err, srv.Endpoint)
	}
	t.Log(err)
	if err := s.Put(ctx, "a/c", strings.NewReader("x")); !errors.Is(err, s3store.ErrUnavailable) {
		t.Fatalf("Put with MinIO stopped: %v", err)
	}
	if _, err := s.List(ctx, "a"); !errors.Is(err, s3store.ErrUnavailable) {
		t.Fatalf("List with MinIO stopped: %v", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The same File goes on from where it stopped.
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(rest, big[pos:]) {
		t.Fatalf("after restart read %d bytes from %d, %v; want the %d left", len(rest), pos, err, len(big)-int(pos))
	}
	b, err := store.ReadAll(ctx, s, "a/b")
	if err != nil || string(b) != "kept" {
		t.Fatalf("after restart ReadAll = %q, %v", b, err)
	}
	if err := s.Put(ctx, "a/c", strings.NewReader("x")); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
}

// TestWrongCredentials: a one-line error that says access was denied,
// with no secret in it.
func TestWrongCredentials(t *testing.T) {
	sharedServer(t)
	const wrongSecret = "not-the-secret-8c1f2e"
	for _, tc := range []struct{ name, keyID, secret string }{
		{"unknown key", "no-such-key", wrongSecret},
		{"wrong secret", miniotest.AccessKey, wrongSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", tc.keyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", tc.secret)
			_, err := s3store.New(context.Background(), "s3://"+miniotest.Bucket, s3store.Options{})
			if !errors.Is(err, s3store.ErrAccessDenied) {
				t.Fatalf("New: %v, want ErrAccessDenied", err)
			}
			msg := err.Error()
			if strings.Contains(msg, tc.secret) || strings.Contains(msg, miniotest.SecretKey) || strings.Contains(msg, "\n") {
				t.Fatalf("error shows a secret or spans lines: %s", msg)
			}
			if !strings.Contains(msg, "denied") {
				t.Fatalf("error does not say access was denied: %s", msg)
			}
			t.Log(msg)
		})
	}
}

// TestMissingBucket: an error that says the bucket does not exist, unless
// CreateBucket.
func TestMissingBucket(t *testing.T) {
	sharedServer(t)
	ctx := context.Background()
	bucket := fmt.Sprintf("missing-%d", time.Now().UnixNano())
	_, err := s3store.New(ctx, "s3://"+bucket+"/p", s3store.Options{})
	if !errors.Is(err, s3store.ErrNoBucket) || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), bucket) {
		t.Fatalf("New on a missing bucket: %v, want ErrNoBucket saying so", err)
	}
	t.Log(err)
	s, err := s3store.New(ctx, "s3://"+bucket+"/p", s3store.Options{CreateBucket: true})
	if err != nil {
		t.Fatalf("New with CreateBucket: %v", err)
	}
	if err := s.Create(ctx, "x", strings.NewReader("y")); err != nil {
		t.Fatal(err)
	}
	// A second CreateBucket of an existing bucket is fine.
	if _, err := s3store.New(ctx, "s3://"+bucket, s3store.Options{CreateBucket: true}); err != nil {
		t.Fatalf("New with CreateBucket on an existing bucket: %v", err)
	}
	if got, err := s3store.New(ctx, "s3://"+bucket+"/p", s3store.Options{}); err != nil {
		t.Fatal(err)
	} else if _, err := got.Open(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open missing: %v", err)
	}
}

// TestSharedFiles configures the store only through the shared config
// and credentials files and a profile, as the aws command would be.
func TestSharedFiles(t *testing.T) {
	srv := sharedServer(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(config, []byte("[profile ferry]\nregion = "+miniotest.Region+"\nendpoint_url = "+srv.Endpoint+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[ferry]\naws_access_key_id = "+miniotest.AccessKey+"\naws_secret_access_key = "+miniotest.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	miniotest.SetEnv(t, map[string]string{
		"AWS_ENDPOINT_URL":            "",
		"AWS_REGION":                  "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_CONFIG_FILE":             config,
		"AWS_SHARED_CREDENTIALS_FILE": creds,
		"AWS_PROFILE":                 "ferry",
	})
	ctx := context.Background()
	s, err := s3store.New(ctx, "s3://"+miniotest.Bucket+"/shared-files", s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Endpoint() != srv.Endpoint {
		t.Fatalf("endpoint %q, want %q from the config file", s.Endpoint(), srv.Endpoint)
	}
	if err := s.Put(ctx, "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	if b, err := store.ReadAll(ctx, s, "k"); err != nil || string(b) != "v" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
}

// TestQuiet: the SDK writes nothing to stderr in normal operation (it
// would log every ranged GET as unvalidated).
func TestQuiet(t *testing.T) {
	sharedServer(t)
	ctx := context.Background()
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	saved := os.Stderr
	os.Stderr = stderr // the SDK's logger takes os.Stderr when New loads the configuration
	s := newStore(t)
	os.Stderr = saved
	data := bytes.Repeat([]byte{7}, 1<<20)
	if err := s.Put(ctx, "q", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	f, err := s.Open(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(f); err != nil || len(b) != len(data)-1000 {
		t.Fatalf("ranged read: %d bytes, %v", len(b), err)
	}
	if out, _ := os.ReadFile(stderr.Name()); len(out) != 0 {
		t.Fatalf("the SDK wrote to stderr:\n%s", out)
	}
}

// lossyProxy stands between the store and MinIO and loses the response
// of the first conditional PUT of each key: MinIO stores the object, the
// client gets a 500, and the SDK sends the PUT again.
type lossyProxy struct {
	rp   *httputil.ReverseProxy
	mu   sync.Mutex
	lost map[string]bool
}

func (p *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cond := r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Match") != ""
	p.mu.Lock()
	lose := r.Method == http.MethodPut && cond && !p.lost[r.URL.Path]
	if lose {
		p.lost[r.URL.Path] = true
	}
	p.mu.Unlock()
	if !lose {
		p.rp.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		w.WriteHeader(rec.Code) // not a write that landed: pass it on
		w.Write(rec.Body.Bytes())
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>response lost</Message></Error>`)
}

// TestConditionalWriteResponseLost: a conditional write whose response
// is lost lands, and the SDK's retry finds the object it wrote (412).
// Create and CompareAndSwap still report success, since the object is
// theirs; a Create of a key another writer took still reports
// fs.ErrExist through the same lossy path.
func TestConditionalWriteResponseLost(t *testing.T) {
	srv := sharedServer(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{rp: httputil.NewSingleHostReverseProxy(target), lost: map[string]bool{}}
	front := httptest.NewServer(p)
	defer front.Close()
	t.Setenv("AWS_ENDPOINT_URL", front.URL)
	ctx := context.Background()
	s := newStore(t)

	if err := s.Create(ctx, "audit/entries/00000000000000000001", strings.NewReader("line 1")); err != nil {
		t.Fatalf("Create whose first response was lost: %v", err)
	}
	if got, err := store.ReadAll(ctx, s, "audit/entries/00000000000000000001"); err != nil || string(got) != "line 1" {
		t.Fatalf("read back %q, %v", got, err)
	}
	lost := false
	p.mu.Lock()
	for k := range p.lost {
		lost = lost || strings.HasSuffix(k, "/audit/entries/00000000000000000001")
	}
	p.mu.Unlock()
	if !lost {
		t.Fatalf("lost responses %v: the test did not exercise the retry", p.lost)
	}

	// Another writer's object: still fs.ErrExist, lossy proxy or not.
	if err := s.Put(ctx, "taken", strings.NewReader("theirs")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "taken", strings.NewReader("mine")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create of a taken key: %v, want fs.ErrExist", err)
	}
	if got, _ := store.ReadAll(ctx, s, "taken"); string(got) != "theirs" {
		t.Fatalf("taken key holds %q", got)
	}

	// A compare-and-swap whose response is lost.
	if err := s.Put(ctx, "head", strings.NewReader("v1")); err != nil {
		t.Fatal(err)
	}
	_, ver, err := s.Get(ctx, "head")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutIf(ctx, "head", strings.NewReader("v2"), ver); err != nil {
		t.Fatalf("PutIf whose first response was lost: %v", err)
	}
	if got, _ := store.ReadAll(ctx, s, "head"); string(got) != "v2" {
		t.Fatalf("head holds %q, want v2", got)
	}
}

// yesProxy stands for an endpoint that ignores conditional writes: it
// answers 200 where MinIO refuses a condition (412).
type yesProxy struct{ rp *httputil.ReverseProxy }

func (p yesProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	if r.Method == http.MethodPut && rec.Code == http.StatusPreconditionFailed {
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.WriteHeader(http.StatusOK)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// TestConditionalWritesRequired: New refuses an endpoint that ignores
// If-None-Match (two creates of one key both succeed), naming the
// problem; on one that honours it, the first New writes the marker and
// later ones check it with one HEAD.
func TestConditionalWritesRequired(t *testing.T) {
	srv := sharedServer(t)
	ctx := context.Background()
	u := fmt.Sprintf("s3://%s/cond%d", miniotest.Bucket, time.Now().UnixNano())

	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(yesProxy{httputil.NewSingleHostReverseProxy(target)})
	defer front.Close()
	t.Setenv("AWS_ENDPOINT_URL", front.URL)
	_, err = s3store.New(ctx, u, s3store.Options{})
	if !errors.Is(err, s3store.ErrNoConditionalWrites) || !strings.Contains(err.Error(), front.URL) {
		t.Fatalf("New on an endpoint that ignores conditions: %v", err)
	}

	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	s, err := s3store.New(ctx, u, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if names, err := s.List(ctx, ""); len(names) != 0 || err != nil {
		t.Fatalf("the store lists %v, %v after the check; want nothing (the marker is not one of its names)", names, err)
	}
	var n atomic.Int64
	if _, err := s3store.New(ctx, u, s3store.Options{Observe: func(*http.Request) { n.Add(1) }}); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Fatalf("New on a checked store made %d requests, want 2 (the bucket, the marker)", n.Load())
	}
}
