package resolve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/testupstream"
)

// zipsProject requires lib (whose package it imports) and unneeded (whose
// package nothing imports): both are in the build list, so go mod download
// all fetches both zips, but only lib's needs extracting.
var zipsProject = map[string]string{
	"go.mod": `module example.test/zips

go 1.21

require (
	modferry.test/dep v1.1.0
	modferry.test/lib v1.0.0
	modferry.test/unneeded v1.0.0
)
`,
	"main.go": `package main

import "modferry.test/lib"

func main() { println(lib.Version()) }
`,
}

// TestResolveZipsOfTheBuildList checks the zips that no go command
// fetched: with a checksum database, the zip of a build-list module that
// provides no package is fetched by Resolve itself (credited to its own
// step, not to a go command), hashed as the database records it, and is
// enough for an offline go mod download all; a go.sum line that disagrees
// with the upstream zip stops the resolution.
func TestResolveZipsOfTheBuildList(t *testing.T) {
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.test", up.Dir, 0)
	env := []string{"GOSUMDB=" + db.GOSUMDB(), "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB="}
	proj := filepath.Join(t.TempDir(), "zips")
	writeTree(t, proj, zipsProject)
	resolve := func() (*Result, error) {
		wd := t.TempDir()
		t.Cleanup(func() { removeAll(wd) })
		return Resolve(context.Background(), Options{Projects: []string{proj}, Upstream: up.URL, GoEnv: env, WorkDir: wd, Logf: t.Logf})
	}
	res, err := resolve()
	if err != nil {
		t.Fatal(err)
	}
	logResult(t, res)

	unneeded := module.Version{Path: "modferry.test/unneeded", Version: "v1.0.0"}
	lib := module.Version{Path: "modferry.test/lib", Version: "v1.0.0"}
	zips := map[module.Version]File{}
	for _, f := range res.Files {
		if f.Kind == modfiles.Zip {
			zips[f.Module] = f
		}
	}
	for _, v := range []module.Version{unneeded, lib} {
		want, _, err := checksumdbtest.Hashes(up.Dir, v)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := zips[v]; !ok || f.ZipHash != want {
			t.Errorf("%s: zip %v with hash %q, want the database's %q", v, ok, f.ZipHash, want)
		}
	}
	var step, byGo int
	for _, c := range res.Requests {
		if strings.HasPrefix(c.Command, "(zips of the build list") {
			step += c.Zip
		} else if !strings.HasPrefix(c.Command, "(") {
			byGo += c.Zip
		}
	}
	// lib and dep provide packages: the go command fetched and extracted
	// them. unneeded is Resolve's own.
	if step != 1 || byGo != 2 {
		t.Errorf("zips fetched by the zip step: %d, by go commands: %d; want 1 and 2", step, byGo)
	}

	// Offline, a go client served only the resolved files downloads the
	// whole build list and builds.
	proxy := serveOnly(t, res)
	work := filepath.Join(t.TempDir(), "zips")
	if err := copyTree(proj, work); err != nil {
		t.Fatal(err)
	}
	offline := offlineEnv(t, proxy)
	runGo(t, offline, work, "mod", "download", "all")
	runGo(t, offline, work, "build", "./...")

	// A module the checksum database does not cover is left to the go
	// command (go mod download checks it against go.sum).
	env = append(env, "GONOSUMDB=modferry.test/unneeded")
	if res, err = resolve(); err != nil {
		t.Fatal(err)
	}
	step, byGo = 0, 0
	for _, c := range res.Requests {
		if strings.HasPrefix(c.Command, "(zips of the build list") {
			step += c.Zip
		} else if c.Command == "mod download "+unneeded.String() {
			byGo += c.Zip
		}
	}
	if step != 0 || byGo != 1 {
		t.Errorf("with GONOSUMDB: zips fetched by the zip step: %d, by go mod download %s: %d; want 0 and 1", step, unneeded, byGo)
	}
	env = env[:len(env)-1]

	// A go.sum that records another hash for unneeded's zip: the go
	// command would refuse that zip, so Resolve does.
	bad := "modferry.test/unneeded v1.0.0 h1:" + strings.Repeat("A", 43) + "=\n"
	if err := os.WriteFile(filepath.Join(proj, "go.sum"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve(); err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), unneeded.String()) {
		t.Errorf("resolve with a wrong go.sum line: %v, want a checksum mismatch naming %s", err, unneeded)
	}
}
