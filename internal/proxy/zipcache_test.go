package proxy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/modferry/modferry/internal/proxy"
)

func openCache(t *testing.T, dir string, limit int64) *proxy.ZipCache {
	t.Helper()
	c, err := proxy.OpenZipCache(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readAll(t *testing.T, f *os.File) []byte {
	t.Helper()
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cacheFiles returns the names of the files in the cache directory but
// its lock.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "lock" {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestZipCacheCrash: what a crash leaves in the cache directory is never
// served: a temporary file is removed when the cache is opened again, and
// a copy that lost its end (a file system that kept the rename but not
// all the data) is refused because of its size. A copy that is whole
// survives the restart.
func TestZipCacheCrash(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, 1<<20)
	mod := time.Unix(1700000000, 123)
	whole := bytes.Repeat([]byte("w"), 5000)
	f, err := c.Fill("download/a/@v/v1.0.0.zip", int64(len(whole)), mod, bytes.NewReader(whole))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	torn := bytes.Repeat([]byte("t"), 5000)
	f, err = c.Fill("download/b/@v/v1.0.0.zip", int64(len(torn)), mod, bytes.NewReader(torn))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// A second server on the same directory is refused.
	if _, err := proxy.OpenZipCache(dir, 1<<20); err == nil {
		t.Error("a second OpenZipCache of a directory in use succeeded")
	}
	c.Close() // the crash: nothing else is cleaned up

	// What the crash left: a copy cut short, and a temporary file of a
	// copy being written.
	var tornName string
	for _, n := range cacheFiles(t, dir) {
		if b, _ := os.ReadFile(filepath.Join(dir, n)); bytes.Equal(b, torn) {
			tornName = n
		}
	}
	if tornName == "" {
		t.Fatalf("no copy of b in %v", cacheFiles(t, dir))
	}
	if err := os.WriteFile(filepath.Join(dir, tornName), torn[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".tmp-12345")
	if err := os.WriteFile(tmp, []byte("half a zip"), 0o600); err != nil {
		t.Fatal(err)
	}

	c = openCache(t, dir, 1<<20)
	defer c.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file a crash left is still there: %v", err)
	}
	if f, ok := c.Open("download/b/@v/v1.0.0.zip", int64(len(torn)), mod); ok {
		f.Close()
		t.Error("a copy cut short was served")
	}
	if _, err := os.Stat(filepath.Join(dir, tornName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the copy cut short is still there: %v", err)
	}
	f, ok := c.Open("download/a/@v/v1.0.0.zip", int64(len(whole)), mod)
	if !ok {
		t.Fatal("the whole copy did not survive the restart")
	}
	if !bytes.Equal(readAll(t, f), whole) {
		t.Error("the whole copy changed")
	}
	// Another version of the object (size, time) never finds it.
	if f, ok := c.Open("download/a/@v/v1.0.0.zip", int64(len(whole)), mod.Add(time.Second)); ok {
		f.Close()
		t.Error("a copy of another modification time was served")
	}
}

// TestZipCacheFailedFill: a copy whose source fails or is short of the
// size expected leaves nothing behind and is not served.
func TestZipCacheFailedFill(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, 1<<20)
	defer c.Close()
	mod := time.Now()
	src := io.MultiReader(strings.NewReader("part of a zip"), iotest.ErrReader(errors.New("connection reset")))
	if _, err := c.Fill("download/a/@v/v1.0.0.zip", 1000, mod, src); err == nil {
		t.Error("Fill of a failing source succeeded")
	}
	if _, err := c.Fill("download/a/@v/v1.0.0.zip", 1000, mod, strings.NewReader("short")); err == nil {
		t.Error("Fill of a short source succeeded")
	}
	if _, err := c.Fill("download/a/@v/v1.0.0.zip", 3, mod, strings.NewReader("longer")); err == nil {
		t.Error("Fill of a long source succeeded")
	}
	if f, ok := c.Open("download/a/@v/v1.0.0.zip", 1000, mod); ok {
		f.Close()
		t.Error("a failed copy was served")
	}
	if n := cacheFiles(t, dir); len(n) != 0 || c.Size() != 0 {
		t.Errorf("failed copies left %v, size %d", n, c.Size())
	}
}

// TestZipCacheLimit: the cache stays within its limit by removing the
// least recently used copies; Remove drops every copy of a name.
func TestZipCacheLimit(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, 2500)
	defer c.Close()
	mod := time.Now()
	fill := func(name string) {
		t.Helper()
		f, err := c.Fill(name, 1000, mod, bytes.NewReader(bytes.Repeat([]byte(name[:1]), 1000)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	has := func(name string) bool {
		f, ok := c.Open(name, 1000, mod)
		if ok {
			f.Close()
		}
		return ok
	}
	fill("a")
	time.Sleep(2 * time.Millisecond)
	fill("b")
	time.Sleep(2 * time.Millisecond)
	if !has("a") { // a is now used more recently than b
		t.Fatal("a missing")
	}
	time.Sleep(2 * time.Millisecond)
	fill("c")
	if c.Size() > 2500 || has("b") || !has("a") || !has("c") {
		t.Errorf("after a third copy over the limit: size %d, b kept %v, a %v, c %v; want b evicted", c.Size(), has("b"), has("a"), has("c"))
	}
	if _, err := c.Fill("big", 3000, mod, bytes.NewReader(make([]byte, 3000))); err == nil {
		t.Error("a zip larger than the cache was copied")
	}
	c.Remove("a")
	if has("a") || len(cacheFiles(t, dir)) != 1 {
		t.Errorf("after Remove(a): %v", cacheFiles(t, dir))
	}
}
