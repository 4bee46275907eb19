package bundle_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
)

// TestDirStageInMemory: members under the KeepInMemory prefix make no
// file until the limit is reached (the member that crosses it, and those
// after, go to files); ReadFile returns every member, from memory or its
// file; LocalPath writes a member held in memory to its file.
func TestDirStageInMemory(t *testing.T) {
	dir := t.TempDir()
	st, err := bundle.NewDirStage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.KeepInMemory("sumdb/", 100)
	put := func(name string, chunks ...string) {
		t.Helper()
		w, err := st.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			if _, err := io.WriteString(w, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files := func() int {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	want := map[string]string{
		"sumdb/sum.golang.org/latest":          "first\n" + string(bytes.Repeat([]byte("x"), 40)),
		"sumdb/sum.golang.org/tile/8/0/000":    string(bytes.Repeat([]byte("y"), 50)),
		"download/example.com/m/@v/v1.0.0.mod": "module example.com/m\n",
		"sumdb/sum.golang.org/tile/8/0/001":    string(bytes.Repeat([]byte("z"), 30)), // crosses the limit: a file
	}
	put("sumdb/sum.golang.org/latest", "first\n", string(bytes.Repeat([]byte("x"), 40)))
	put("sumdb/sum.golang.org/tile/8/0/000", want["sumdb/sum.golang.org/tile/8/0/000"])
	if n := files(); n != 0 {
		t.Fatalf("%d files after two members held in memory", n)
	}
	put("download/example.com/m/@v/v1.0.0.mod", want["download/example.com/m/@v/v1.0.0.mod"])
	put("sumdb/sum.golang.org/tile/8/0/001", "zzzzzzzzzz", "zzzzzzzzzz", "zzzzzzzzzz")
	if n := files(); n != 2 {
		t.Fatalf("%d files, want 2 (the .mod, and the member over the limit)", n)
	}
	for name, content := range want {
		got, err := st.ReadFile(name)
		if err != nil || string(got) != content {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", name, got, err, content)
		}
	}
	p, err := st.LocalPath("sumdb/sum.golang.org/latest")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != want["sumdb/sum.golang.org/latest"] {
		t.Errorf("LocalPath of a member in memory: file holds %q, %v", got, err)
	}
	if got, err := st.ReadFile("sumdb/sum.golang.org/latest"); err != nil || string(got) != want["sumdb/sum.golang.org/latest"] {
		t.Errorf("ReadFile after LocalPath = %q, %v", got, err)
	}
	if _, err := st.ReadFile("sumdb/sum.golang.org/tile/8/0/002"); err == nil {
		t.Error("ReadFile of a member never staged: no error")
	}
}
