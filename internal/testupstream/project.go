package testupstream

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// Projects reports the names of the fixture projects [WriteProject] knows.
func Projects() []string {
	names, _ := fs.Glob(testdata, "testdata/projects/*.txt")
	for i, name := range names {
		names[i] = strings.TrimSuffix(path.Base(name), ".txt")
	}
	return names
}

// WriteProject writes the fixture project name (testdata/projects/NAME.txt)
// into dir, creating dir if needed. Projects come without go.sum files.
//
// The projects are:
//   - app: the main module example.test/app, requiring most fixtures
//     (upper-case path, /v2, +incompatible, pseudo-version, a retracted
//     version, nested modules, and lib v1.0.0 whose dep v1.0.0 is needed
//     only for its go.mod), with a test;
//   - work: a go.work workspace of example.test/ws/a and
//     example.test/ws/b; a imports b, b requires lib v1.2.0. Workspace
//     mode rejects GOFLAGS=-mod=mod: run the go command there with GOFLAGS
//     unset, "go mod download" first (it writes go.work.sum), and build
//     "./a/... ./b/..." (the root is no module).
func WriteProject(t testing.TB, name, dir string) {
	t.Helper()
	if err := writeProject(name, dir); err != nil {
		t.Fatalf("testupstream: project %s: %v", name, err)
	}
}

func writeProject(name, dir string) error {
	if !fs.ValidPath(name) || strings.Contains(name, "/") {
		return fmt.Errorf("bad project name")
	}
	data, err := testdata.ReadFile("testdata/projects/" + name + ".txt")
	if err != nil {
		return err
	}
	for _, f := range txtar.Parse(data).Files {
		if !fs.ValidPath(f.Name) {
			return fmt.Errorf("bad file name %q", f.Name)
		}
		file := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(file, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
