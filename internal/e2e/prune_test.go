package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestPrune imports two bundles, publishes a module, builds a project
// through a server (which records the downloads), and prunes with
// --unused-since set between the imports and the downloads: the dry run
// lists exactly the versions nobody downloaded and changes nothing;
// --apply, with the server running, removes those; the go command then
// gets 410 with the reason for a removed version and still builds the
// project; the audit log verifies and holds one prune entry per removal.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	key, pub := bundletest.NewKey(t)
	pubText, _ := pub.MarshalText()
	pubFile := filepath.Join(dir, "ferry.pub")
	os.WriteFile(pubFile, pubText, 0o644)
	src := func(s string) map[string][]byte {
		return map[string][]byte{"x.go": []byte(s)}
	}
	utilV1 := bundletest.Module{Path: "modferry.test/util", Version: "v1.0.0", Files: src("package util\n\nfunc N() int { return 1 }\n")}
	old := filepath.Join(dir, "old.tar.zst")
	bundletest.Write(t, old, []bundletest.Module{
		{Path: "modferry.test/lib", Version: "v1.0.0", Files: src("package lib\n\nfunc N() int { return 0 }\n")},
		utilV1,
		{Path: "modferry.test/old", Version: "v1.0.0", Files: src("package old\n")},
	}, key)
	cur := filepath.Join(dir, "new.tar.zst")
	bundletest.Write(t, cur, []bundletest.Module{
		{Path: "modferry.test/lib", Version: "v1.1.0", Files: map[string][]byte{
			"go.mod": []byte("module modferry.test/lib\n\ngo 1.22\n\nrequire modferry.test/util v1.0.0\n"),
			"x.go":   []byte("package lib\n\nimport \"modferry.test/util\"\n\nfunc N() int { return util.N() + 1 }\n"),
		}},
		utilV1,
		{Path: "modferry.test/extra", Version: "v1.0.0", Files: src("package extra\n")},
	}, key)
	store := filepath.Join(dir, "store")
	mf(t, "import", "--store", store, "--pubkey", pubFile, old)
	mf(t, "import", "--store", store, "--pubkey", pubFile, cur)
	priv := t.TempDir()
	writeFiles(t, priv, map[string]string{"go.mod": "module corp.example/priv\n", "priv.go": "package priv\n"})
	mf(t, "publish", "--store", store, "corp.example/priv@v1.0.0", priv)
	arrived := time.Now()
	// unusedSince puts the cut-off one second after everything arrived,
	// and (after the pause below) before every download.
	unusedSince := func() string {
		return fmt.Sprintf("%dms", (time.Since(arrived) - time.Second).Milliseconds())
	}
	time.Sleep(4 * time.Second) // downloads then come at least 3s after the cut-off

	url := serve(t, store, "--downloads-flush", "200ms")
	proj := t.TempDir()
	writeFiles(t, proj, map[string]string{
		"go.mod":  "module example.test/app\n\ngo 1.22\n\nrequire modferry.test/lib v1.1.0\n",
		"main.go": "package main\n\nimport \"modferry.test/lib\"\n\nfunc main() { println(lib.N()) }\n",
	})
	if _, err := testupstream.RunGo(t, proj, append(testupstream.GoEnv(t, url), sharedGoCache(t)), "build", "./..."); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has written the downloads.
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, _ := mfErr(t, "prune", "--store", store, "--unused-since", unusedSince(), "--json")
		if strings.Contains(out, `"usedRecently": 2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not record the downloads:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	want := []string{"modferry.test/extra@v1.0.0", "modferry.test/lib@v1.0.0", "modferry.test/old@v1.0.0"}
	before := storeFiles(t, store)
	var plan struct {
		DryRun  bool           `json:"dryRun"`
		Kept    map[string]int `json:"kept"`
		Remove  []struct{ Path, Version, Reason string }
		Removed int `json:"removed"`
	}
	out := mf(t, "prune", "--store", store, "--unused-since", unusedSince(), "--json")
	checkJSONContract(t, "prune", out)
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, r := range plan.Remove {
		got = append(got, r.Path+"@"+r.Version)
		if !strings.HasPrefix(r.Reason, "pruned: not downloaded for ") {
			t.Errorf("reason %q", r.Reason)
		}
	}
	if !plan.DryRun || plan.Removed != 0 || !slices.Equal(got, want) || plan.Kept["published"] != 1 || plan.Kept["usedRecently"] != 2 {
		t.Fatalf("dry run: %+v, want removal of %v\n%s", plan, want, out)
	}
	out = mf(t, "prune", "--store", store, "--unused-since", unusedSince())
	if !strings.Contains(out, "would remove modferry.test/old@v1.0.0: pruned:") || !strings.Contains(out, "Nothing was changed") {
		t.Errorf("dry run text:\n%s", out)
	}
	if after := storeFiles(t, store); !slices.Equal(before, after) {
		t.Fatalf("the dry run changed the store:\nbefore %v\nafter  %v", before, after)
	}
	// Without --unused-since, every bundle keeps its versions: nothing to do.
	if out := mf(t, "prune", "--store", store); !strings.Contains(out, "would remove 0 of 6 versions") {
		t.Errorf("prune without --unused-since:\n%s", out)
	}

	// --apply, while the server runs.
	out = mf(t, "prune", "--store", store, "--unused-since", unusedSince(), "--apply")
	for _, v := range want {
		if !strings.Contains(out, "removed "+v+": pruned: ") {
			t.Errorf("apply did not report %s:\n%s", v, out)
		}
	}
	if !strings.Contains(out, "removed 3 of 6 versions") {
		t.Errorf("apply summary:\n%s", out)
	}
	out = mf(t, "prune", "--store", store, "--unused-since", unusedSince(), "--json")
	if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan.Remove) != 0 {
		t.Fatalf("after apply, prune still plans %v (%v)", plan.Remove, err)
	}

	// The go command: 410 with the reason for a removed version, the
	// version lists lose it, and the project still builds from scratch.
	env := append(testupstream.GoEnv(t, url), sharedGoCache(t))
	out, err := testupstream.RunGo(t, proj, env, "mod", "download", "modferry.test/lib@v1.0.0")
	if err == nil || !strings.Contains(out, "410 Gone") || !strings.Contains(out, "pruned: not downloaded for") {
		t.Fatalf("download of a pruned version: %v\n%s", err, out)
	}
	out, err = testupstream.RunGo(t, proj, env, "list", "-m", "-versions", "modferry.test/lib")
	if err != nil || strings.TrimSpace(out) != "modferry.test/lib v1.1.0" {
		t.Fatalf("versions after prune: %v\n%s", err, out)
	}
	env = append(testupstream.GoEnv(t, url), sharedGoCache(t))
	if _, err := testupstream.RunGo(t, proj, env, "build", "./..."); err != nil {
		t.Fatalf("the kept project no longer builds: %v", err)
	}
	if _, err := testupstream.RunGo(t, proj, env, "mod", "download", "corp.example/priv@v1.0.0"); err != nil {
		t.Fatalf("the published module was pruned: %v", err)
	}

	// The audit log verifies and records each removal.
	mf(t, "audit", "verify", "--store", store)
	var es []audit.Entry
	if err := json.Unmarshal([]byte(mf(t, "audit", "show", "--store", store, "--action", "prune", "--json")), &es); err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, e := range es {
		if e.Result == audit.ResultOK {
			got = append(got, e.Target)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit prune entries %v, want %v", got, want)
	}

	// A later bundle that carries a pruned version brings it back.
	again := filepath.Join(dir, "again.tar.zst")
	bundletest.Write(t, again, []bundletest.Module{
		{Path: "modferry.test/lib", Version: "v1.0.0", Files: src("package lib\n\nfunc N() int { return 0 }\n")},
	}, key)
	mf(t, "import", "--store", store, "--pubkey", pubFile, again)
	env = append(testupstream.GoEnv(t, url), sharedGoCache(t))
	out, err = testupstream.RunGo(t, proj, env, "list", "-m", "-versions", "modferry.test/lib")
	if err != nil || strings.TrimSpace(out) != "modferry.test/lib v1.0.0 v1.1.0" {
		t.Fatalf("versions after the pruned version came back: %v\n%s", err, out)
	}
	if _, err := testupstream.RunGo(t, proj, env, "mod", "download", "modferry.test/lib@v1.0.0"); err != nil {
		t.Fatalf("the version a bundle brought back: %v", err)
	}
}

// storeFiles lists the files under a store's download/ tree with their
// sizes.
func storeFiles(t *testing.T, store string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(store, "download"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d", strings.TrimPrefix(p, store), fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
