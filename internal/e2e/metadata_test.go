package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/bundle/bundletest"
)

// TestMetadataCLI imports a bundle, serves the store, and uses
// modferry ls, search and show against the server (--server, a read
// token) and the store (--store); then publishes and deletes a version
// through other processes (the CLI on the same store) while the server
// runs, and sees its index follow: module pages at once, search results
// and dependents within the refresh interval.
func TestMetadataCLI(t *testing.T) {
	dir := t.TempDir()
	key, pub := bundletest.NewKey(t)
	pubText, _ := pub.MarshalText()
	pubFile := filepath.Join(dir, "ferry.pub")
	os.WriteFile(pubFile, pubText, 0o644)
	b := filepath.Join(dir, "b.tar.zst")
	bundletest.Write(t, b, []bundletest.Module{
		{Path: "modferry.test/lib", Version: "v1.0.0", Files: map[string][]byte{"lib.go": []byte("package lib\n")}},
		{Path: "modferry.test/lib", Version: "v1.1.0", Files: map[string][]byte{
			"go.mod": []byte("module modferry.test/lib\n\ngo 1.22\n\nretract v1.0.0 // broken\n"), "lib.go": []byte("package lib\n"),
			"LICENSE": []byte(bsd0)}},
		{Path: "modferry.test/app", Version: "v0.1.0", Files: map[string][]byte{
			"go.mod": []byte("module modferry.test/app\n\nrequire modferry.test/lib v1.1.0\n"), "main.go": []byte("package main\n")}},
	}, key)
	store := filepath.Join(dir, "store")
	mf(t, "import", "--store", store, "--pubkey", pubFile, b)
	reader := addToken(t, store, "reader", "read")
	url := serve(t, store, "--catalog-refresh", "300ms")
	remote := []string{"--server", url, "--token", reader}
	local := []string{"--store", store}

	type list struct {
		Modules []api.ModuleSummary `json:"modules"`
	}
	paths := func(out string) []string {
		t.Helper()
		checkJSONContract(t, "ls/search", out)
		var l list
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var ps []string
		for _, m := range l.Modules {
			ps = append(ps, m.Path)
		}
		return ps
	}
	show := func(where []string, m string) (*api.Module, error) {
		t.Helper()
		out, err := mfErr(t, append([]string{"show", m}, where...)...)
		if err != nil {
			return nil, &showError{out}
		}
		checkJSONContract(t, "show", out)
		var mod api.Module
		if err := json.Unmarshal([]byte(out), &mod); err != nil {
			t.Fatalf("show %s: %v\n%s", m, err, out)
		}
		return &mod, nil
	}
	dependents := func(m *api.Module) []string {
		var ds []string
		for _, d := range m.Dependents {
			ds = append(ds, d.Path)
		}
		return ds
	}

	// Standard output is not a terminal here: JSON without --json.
	for _, where := range [][]string{remote, local} {
		if got := paths(mf(t, append([]string{"ls"}, where...)...)); !slices.Equal(got, []string{"modferry.test/app", "modferry.test/lib"}) {
			t.Errorf("ls %v: %v", where[0], got)
		}
		if got := paths(mf(t, append([]string{"search", "LIB"}, where...)...)); !slices.Equal(got, []string{"modferry.test/lib"}) {
			t.Errorf("search LIB %v: %v", where[0], got)
		}
		m, err := show(where, "modferry.test/lib")
		if err != nil {
			t.Fatal(err)
		}
		if m.Latest != "v1.1.0" || len(m.Versions) != 2 || !m.Versions[1].Retracted || m.Versions[0].Origin == nil || m.Versions[0].Origin.Kind != "bundle" ||
			!slices.Equal(dependents(m), []string{"modferry.test/app"}) {
			t.Errorf("show %v: %+v", where[0], m)
		}
		if _, err := show(where, "modferry.test/nothing"); err == nil || !strings.Contains(err.Error(), "no such module") {
			t.Errorf("show of an unknown module %v: %v", where[0], err)
		}
	}
	// Both give the same answers: search results, and module pages (the
	// server's may only say Partial while it indexes).
	for _, args := range [][]string{{"ls"}, {"search", "test/"}, {"show", "modferry.test/lib"}, {"show", "modferry.test/lib@v1.0.0"}, {"show", "modferry.test/app"}} {
		var r, l any
		json.Unmarshal([]byte(mf(t, append(args, remote...)...)), &r)
		json.Unmarshal([]byte(mf(t, append(args, local...)...)), &l)
		if m, ok := r.(map[string]any); ok {
			delete(m, "partial")
		}
		if r == nil || !reflect.DeepEqual(r, l) {
			t.Errorf("%v: --server and --store differ:\n%v\n%v", args, r, l)
		}
	}
	// Licences: those of the zip's licence file; none recognised in a
	// zip without one.
	for _, where := range [][]string{remote, local} {
		m, _ := show(where, "modferry.test/lib")
		if m == nil || !slices.Equal(m.Versions[0].Licenses, []string{"0BSD"}) || m.Versions[1].Licenses == nil || len(m.Versions[1].Licenses) != 0 {
			t.Errorf("show %v: licences %+v", where[0], m)
		}
	}
	// --table prints a table.
	if out := mf(t, append([]string{"ls", "--table"}, local...)...); !strings.Contains(out, "MODULE") || !strings.Contains(out, "modferry.test/lib  v1.1.0") {
		t.Errorf("ls --table:\n%s", out)
	}
	if out := mf(t, append([]string{"show", "modferry.test/lib", "--table"}, local...)...); !strings.Contains(out, "LICENCES") || !strings.Contains(out, "0BSD") {
		t.Errorf("show --table --store:\n%s", out)
	}
	if out := mf(t, append([]string{"show", "modferry.test/lib@v1.0.0", "--table"}, remote...)...); !strings.Contains(out, "retracted: broken") || !strings.Contains(out, "modferry.test/app") {
		t.Errorf("show --table:\n%s", out)
	}
	// The import history records the signer.
	req, _ := http.NewRequest("GET", url+api.BundlesPath, nil)
	req.Header.Set("Authorization", "Bearer "+reader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var bl api.BundleList
	json.NewDecoder(resp.Body).Decode(&bl)
	resp.Body.Close()
	if len(bl.Bundles) != 1 || !slices.Equal(bl.Bundles[0].Signers, []string{"minisign:" + pub.ID()}) {
		t.Errorf("bundles: %+v", bl)
	}

	// A publish by another process: the module page at once, search and
	// the dependents of lib within the refresh interval.
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"go.mod": "module corp.example/new\n\nrequire modferry.test/lib v1.1.0\n", "n.go": "package n\n"})
	mf(t, "publish", "--store", store, "corp.example/new@v1.0.0", src)
	if m, err := show(remote, "corp.example/new"); err != nil || m.Versions[0].Origin == nil || m.Versions[0].Origin.Kind != "publish" {
		t.Errorf("show of a version just published by another process: %+v %v", m, err)
	}
	eventually(t, "the publish in search and dependents", func() bool {
		m, err := show(remote, "modferry.test/lib")
		return slices.Contains(paths(mf(t, append([]string{"search", "new"}, remote...)...)), "corp.example/new") &&
			err == nil && slices.Contains(dependents(m), "corp.example/new")
	})

	// A delete by another process.
	mf(t, "delete", "--store", store, "--reason", "test", "corp.example/new@v1.0.0")
	if _, err := show(remote, "corp.example/new"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("show of a module just deleted by another process: %v", err)
	}
	eventually(t, "the delete in search and dependents", func() bool {
		m, err := show(remote, "modferry.test/lib")
		return !slices.Contains(paths(mf(t, append([]string{"search", "new"}, remote...)...)), "corp.example/new") &&
			err == nil && !slices.Contains(dependents(m), "corp.example/new")
	})
	if got := paths(mf(t, append([]string{"ls"}, local...)...)); !slices.Equal(got, []string{"modferry.test/app", "modferry.test/lib"}) {
		t.Errorf("ls --store after the delete: %v", got)
	}
}

// bsd0 is the text of the Zero-Clause BSD licence.
const bsd0 = `Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
`

type showError struct{ out string }

func (e *showError) Error() string { return e.out }

// eventually polls cond for up to 15 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Errorf("%s: not seen within 15s", what)
}
