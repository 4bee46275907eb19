package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// dirEntries returns the names in dir, failing t if it cannot be read.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkOnly fails t unless dir holds exactly the named entries (so no
// temporary file is left) and the file name holds want.
func checkOnly(t *testing.T, dir string, entries []string, name string, want []byte) {
	t.Helper()
	if got := dirEntries(t, dir); fmt.Sprint(got) != fmt.Sprint(entries) {
		t.Errorf("directory holds %q, want %q", got, entries)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %.40q (%d bytes), want %.40q (%d bytes)", filepath.Base(name), got, len(got), want, len(want))
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	for _, content := range []string{"first", "second, longer", ""} {
		if err := WriteFile(name, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		checkOnly(t, dir, []string{"f"}, name, []byte(content))
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

// failingReader yields n bytes, then fails.
type failingReader struct{ n int }

var errReader = errors.New("reader failed")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errReader
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// TestWriteReaderFails checks that a reader failing midway leaves the
// old content and no temporary file.
func TestWriteReaderFails(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	old := []byte("old content\n")
	if err := WriteFile(name, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(name, &failingReader{n: 100 << 10}, 0o644); !errors.Is(err, errReader) {
		t.Fatalf("Write = %v, want the reader's error", err)
	}
	checkOnly(t, dir, []string{"f"}, name, old)

	n, err := Write(name, strings.NewReader("new"), 0o644)
	if err != nil || n != 3 {
		t.Fatalf("Write = %d, %v; want 3, nil", n, err)
	}
	checkOnly(t, dir, []string{"f"}, name, []byte("new"))
}

// TestWriteFileRenameFails makes the last step, the rename, fail (the
// name is a directory that is not empty): the temporary file must go and
// the directory stay as it was.
func TestWriteFileRenameFails(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "d")
	if err := os.Mkdir(name, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(name, "inside"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(name, []byte("content"), 0o644); err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if got := dirEntries(t, dir); fmt.Sprint(got) != "[d]" {
		t.Errorf("directory holds %q, want [d]", got)
	}
	checkOnly(t, name, []string{"inside"}, filepath.Join(name, "inside"), []byte("kept"))
}

// TestWriteFileReadOnlyDir writes into a directory without write
// permission: the write fails and the old content stays.
func TestWriteFileReadOnlyDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no directory write permission bit")
	}
	if os.Geteuid() == 0 {
		t.Skip("root ignores permission bits; TestWriteFileDiskFull covers a failing write")
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := WriteFile(name, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if err := WriteFile(name, []byte("new"), 0o644); !IsReadOnly(err) {
		t.Fatalf("WriteFile in a read-only directory = %v, want a permission error", err)
	}
	checkOnly(t, dir, []string{"f"}, name, []byte("old"))
}

// TestCloseAbandons checks that Close without Commit removes the
// temporary file, which sits beside the target under TempPrefix, and that
// a File cannot be committed afterwards.
func TestCloseAbandons(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := WriteFile(name, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(name, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, "new"); err != nil {
		t.Fatal(err)
	}
	ents := dirEntries(t, dir)
	if len(ents) != 2 || !strings.HasPrefix(ents[0], TempPrefix) || ents[1] != "f" {
		t.Errorf("while writing, the directory holds %q, want f and a %s* file", ents, TempPrefix)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkOnly(t, dir, []string{"f"}, name, []byte("old"))
	if err := f.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Commit after Close = %v, want os.ErrClosed", err)
	}
	checkOnly(t, dir, []string{"f"}, name, []byte("old"))
}

// TestCommitNew checks that CommitNew creates a missing file and refuses
// to replace an existing one, which keeps its content.
func TestCommitNew(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	commitNew := func(content string) error {
		f, err := Create(name, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := io.WriteString(f, content); err != nil {
			t.Fatal(err)
		}
		return f.CommitNew()
	}
	if err := commitNew("first"); err != nil {
		t.Fatal(err)
	}
	checkOnly(t, dir, []string{"f"}, name, []byte("first"))
	if err := commitNew("second"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CommitNew over an existing file = %v, want fs.ErrExist", err)
	}
	checkOnly(t, dir, []string{"f"}, name, []byte("first"))
}

// TestConcurrentWriters runs writers of different contents against one
// name while a reader reads it: every read sees one writer's whole
// content, and the file ends with one whole content and no temporary
// file.
func TestConcurrentWriters(t *testing.T) {
	const (
		writers = 8
		rounds  = 10
		size    = 64 << 10
	)
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	content := func(w int) []byte { return bytes.Repeat([]byte{byte('a' + w)}, size) }
	// whole reports whether b is one writer's content.
	whole := func(b []byte) bool {
		return len(b) == size && b[0] >= 'a' && b[0] < 'a'+writers && bytes.Count(b, b[:1]) == size
	}
	if err := WriteFile(name, content(0), 0o644); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for range rounds {
				if err := WriteFile(name, content(w), 0o644); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Windows cannot rename over a file that a reader holds open, so
	// readers run elsewhere only.
	var reads int
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for runtime.GOOS != "windows" {
			select {
			case <-done:
				return
			default:
			}
			b, err := os.ReadFile(name)
			if err != nil {
				errs <- err
				return
			}
			reads++
			if !whole(b) {
				errs <- fmt.Errorf("a reader saw %d bytes starting %.8q: not one writer's content", len(b), b)
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	<-readerDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d reads during %d writes", reads, writers*rounds)
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !whole(got) {
		t.Errorf("final content of %d bytes starting %.8q is not one writer's", len(got), got)
	}
	checkOnly(t, dir, []string{"f"}, name, got)
}
