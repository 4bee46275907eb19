package server

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/memzip"
	"github.com/modferry/modferry/internal/store"
)

// multipartBody returns a multipart body of the given parts, in order.
func multipartBody(parts ...[2]string) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		w, _ := mw.CreateFormFile(p[0], p[0])
		w.Write([]byte(p[1]))
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// realZip returns a module zip written by archive/zip (not by x/mod/zip:
// other order, timestamps, data descriptors) and the files it holds.
func realZip(t *testing.T, v module.Version, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"z.go", "go.mod", "a.go"} {
		if data, ok := files[name]; ok {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: v.Path + "@" + v.Version + "/" + name, Method: zip.Deflate, Modified: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(data))
		}
	}
	zw.Close()
	return buf.Bytes()
}

func TestPublishZipHardening(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
	v := module.Version{Path: "corp.example/z", Version: "v1.0.0"}
	path := "/api/v1/modules/corp.example/z/@v/v1.0.0"
	mod := "module corp.example/z\n"
	files := map[string]string{"go.mod": mod, "a.go": "package z\n", "z.go": "package z\n\nconst Z = 1\n"}
	real := realZip(t, v, files)
	var decoy bytes.Buffer
	zw := zip.NewWriter(&decoy)
	dw, _ := zw.Create(v.Path + "@" + v.Version + "/evil.go")
	dw.Write([]byte("package z\n\nfunc init() { panic(\"decoy\") }\n"))
	zw.Close()
	put := func(parts ...[2]string) (int, string) {
		body, ct := multipartBody(parts...)
		resp := f.do(req{method: "PUT", path: path, token: w, body: body, contentType: ct})
		return resp.Code, resp.Body.String()
	}

	// JUNK + decoy.zip + real.zip: Go's zip reader sees the real files
	// only, so the module zip rules and h1: pass; it must still be refused.
	attack := string(bytes.Repeat([]byte("JUNK"), 256)) + decoy.String() + string(real)
	if code, body := put([2]string{"mod", mod}, [2]string{"zip", attack}); code != 400 || !strings.Contains(body, "not exactly one zip archive") {
		t.Fatalf("junk+decoy+real: %d %s", code, body)
	}
	// Repeated parts: two zip parts would be stored concatenated.
	if code, body := put([2]string{"mod", mod}, [2]string{"zip", string(real)}, [2]string{"zip", string(real)}); code != 400 || !strings.Contains(body, "more than once") {
		t.Fatalf("repeated zip part: %d %s", code, body)
	}
	if code, body := put([2]string{"mod", mod}, [2]string{"mod", mod}, [2]string{"zip", string(real)}); code != 400 || !strings.Contains(body, "more than once") {
		t.Fatalf("repeated mod part: %d %s", code, body)
	}
	if ents, _ := os.ReadDir(filepath.Join(f.root, UploadsDir)); len(ents) != 0 {
		t.Fatalf("upload files left behind: %v", ents)
	}

	// A good upload is stored re-created by x/mod/zip, not byte for byte.
	if code, body := put([2]string{"mod", mod}, [2]string{"zip", string(real)}); code != 201 {
		t.Fatalf("publish: %d %s", code, body)
	}
	stored, err := store.ReadAll(context.Background(), f.st, "download/corp.example/z/@v/v1.0.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	bf := map[string][]byte{}
	for n, d := range files {
		bf[n] = []byte(d)
	}
	want, err := memzip.Bytes(v, bf)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(stored, real) || !bytes.Equal(stored, want) {
		t.Fatalf("stored zip (%d bytes) is not the canonical x/mod/zip one (%d bytes)", len(stored), len(want))
	}
	if ents, _ := os.ReadDir(filepath.Join(f.root, UploadsDir)); len(ents) != 0 {
		t.Fatalf("upload files left behind: %v", ents)
	}
}

func TestPublishStatusCodes(t *testing.T) {
	f := newFixture(t, Config{})
	f.srv.maxZip = 1 << 20
	w := f.add(t, "w", auth.ScopeWrite, auth.ScopeRead)
	path := "/api/v1/modules/corp.example/s/@v/v1.0.0"
	do := func(body io.Reader, ct string) (int, string) {
		resp := f.do(req{method: "PUT", path: path, token: w, body: body, contentType: ct})
		return resp.Code, resp.Body.String()
	}

	// A boundary line longer than the multipart reader's buffer
	// (was 500 "bufio: buffer full").
	long := strings.Repeat("b", 8000)
	if code, body := do(strings.NewReader("--"+long+"\r\n\r\nx\r\n--"+long+"--\r\n"), "multipart/form-data; boundary="+long); code != 400 {
		t.Errorf("broken boundary: %d %s", code, body)
	}
	// 20,000 part headers (was 500 "message too large").
	var b strings.Builder
	b.WriteString("--B\r\nContent-Disposition: form-data; name=\"mod\"\r\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "X-H%d: v\r\n", i)
	}
	b.WriteString("\r\nmodule x\r\n--B--\r\n")
	if code, body := do(strings.NewReader(b.String()), "multipart/form-data; boundary=B"); code != 400 {
		t.Errorf("20,000 part headers: %d %s", code, body)
	}
	// A zip part over the module zip limit (was 500).
	big := io.MultiReader(strings.NewReader("--B\r\nContent-Disposition: form-data; name=\"zip\"\r\n\r\n"),
		io.LimitReader(zeros{}, f.srv.maxZip+2))
	if code, body := do(big, "multipart/form-data; boundary=B"); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized zip: %d %s", code, body)
	}
	// A body over the request limit.
	if code, body := do(io.LimitReader(zeros{}, f.srv.maxZip+modzip.MaxGoMod+2<<20), "multipart/form-data; boundary=B"); code != http.StatusRequestEntityTooLarge && code != 400 {
		t.Errorf("oversized body: %d %s", code, body)
	}
	// Wrong methods on /healthz and /metrics.
	for _, r := range []req{{method: "DELETE", path: "/healthz"}, {method: "POST", path: "/metrics", token: w}} {
		resp := f.do(r)
		if resp.Code != http.StatusMethodNotAllowed || resp.Header().Get("Allow") == "" {
			t.Errorf("%s %s: %d, Allow %q", r.method, r.path, resp.Code, resp.Header().Get("Allow"))
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
