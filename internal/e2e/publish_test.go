package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/testupstream"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
		"GIT_AUTHOR_DATE=2024-05-06T07:08:09Z", "GIT_COMMITTER_DATE=2024-05-06T07:08:09Z", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPublishBuildDelete publishes a private module (from a directory,
// locally; over HTTP with a write token; from a git tag), builds against it
// with the go command, checks the zip and its hash, refuses a second
// publish of a version, deletes a version over HTTP and sees the go
// command get 410 for it, and finds all of it in the audit log.
func TestPublishBuildDelete(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"go.mod":            "module corp.example/priv\n\ngo 1.22\n",
		"priv.go":           "package priv\n\n// Hello greets.\nfunc Hello() string { return \"hello v1.0.0\" }\n",
		"vendor/v/v.go":     "package v\n",
		"nested/go.mod":     "module corp.example/priv/nested\n",
		"nested/nested.go":  "package nested\n",
		"testdata/big.txt":  "data\n",
		"internal/i/i.go":   "package i\n",
		".git/HEAD":         "ref: refs/heads/main\n",
		"cmd/tool/main.go":  "package main\n\nfunc main() {}\n",
		"docs/README.md":    "# priv\n",
		"priv_test.go":      "package priv\n\nimport \"testing\"\n\nfunc TestHello(t *testing.T) { _ = Hello() }\n",
		"LICENSE":           "none\n",
		"internal/i/i2.go":  "package i\n",
		"cmd/tool/tool.txt": "x\n",
	})

	// 1. Publish locally from a directory.
	out := mf(t, "publish", "--store", store, "corp.example/priv@v1.0.0", src)
	h1 := ""
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "v1.0.0" {
			h1 = f[2]
		}
	}
	if !strings.HasPrefix(h1, "h1:") {
		t.Fatalf("publish did not print the go.sum line:\n%s", out)
	}
	// 2. Versions are immutable.
	out, err := mfErr(t, "publish", "--store", store, "corp.example/priv@v1.0.0", src)
	if err == nil || !strings.Contains(out, "versions are immutable") {
		t.Fatalf("second publish of v1.0.0: %v\n%s", err, out)
	}

	write := addToken(t, store, "release", "read,write,delete")
	url := serve(t, store, "--allow-anonymous-read")

	// 3. Publish over HTTP with a write token; again refused.
	writeFiles(t, src, map[string]string{"priv.go": "package priv\n\n// Hello greets.\nfunc Hello() string { return \"hello v1.1.0\" }\n"})
	mf(t, "publish", "--server", url, "--token", write, "corp.example/priv@v1.1.0", src)
	out, err = mfErr(t, "publish", "--server", url, "--token", write, "corp.example/priv@v1.1.0", src)
	if err == nil || !strings.Contains(out, "409 Conflict") || !strings.Contains(out, "versions are immutable") {
		t.Fatalf("second publish of v1.1.0 over HTTP: %v\n%s", err, out)
	}

	// 4. Publish from a git tag, in a subdirectory of the repository.
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{
		"lib/go.mod":  "module corp.example/priv\n\ngo 1.22\n",
		"lib/priv.go": "package priv\n\n// Hello greets.\nfunc Hello() string { return \"hello v1.2.0\" }\n",
		"lib/junk.go": "package priv\n",
		"other.txt":   "not in the module\n",
	})
	gitRun(t, repo, "init", "-q", "-b", "main")
	gitRun(t, repo, "add", ".")
	gitRun(t, repo, "commit", "-q", "-m", "v1.2.0")
	gitRun(t, repo, "tag", "v1.2.0")
	writeFiles(t, repo, map[string]string{"lib/uncommitted.go": "package priv\n\nthis does not compile\n"})
	mf(t, "publish", "--store", store, "--from-git", repo+"@v1.2.0", "--subdir", "lib", "corp.example/priv@v1.2.0")

	// 5. The go command builds against it (GONOSUMDB: no public checksum
	// database knows a private module; GOPRIVATE would also bypass the proxy).
	proj := t.TempDir()
	writeFiles(t, proj, map[string]string{
		"go.mod":  "module example.test/user\n\ngo 1.22\n\nrequire corp.example/priv v1.0.0\n",
		"main.go": "package main\n\nimport \"corp.example/priv\"\n\nfunc main() { println(priv.Hello()) }\n",
	})
	env := append(testupstream.GoEnv(t, url), "GONOSUMDB=corp.example", sharedGoCache(t))
	for _, args := range [][]string{{"build", "./..."}, {"list", "-m", "-versions", "corp.example/priv"}} {
		if _, err := testupstream.RunGo(t, proj, env, args...); err != nil {
			t.Fatal(err)
		}
	}
	out, err = testupstream.RunGo(t, proj, env, "list", "-m", "-versions", "corp.example/priv")
	if err != nil || strings.TrimSpace(out) != "corp.example/priv v1.0.0 v1.1.0 v1.2.0" {
		t.Fatalf("versions: %v\n%s", err, out)
	}
	out, err = testupstream.RunGo(t, proj, env, "list", "-m", "-json", "corp.example/priv@v1.2.0")
	if err != nil || !strings.Contains(out, `"Time": "2024-05-06T07:08:09Z"`) {
		t.Fatalf("v1.2.0 from git does not carry the commit time: %v\n%s", err, out)
	}

	// 6. The stored zip follows the rules, and the go command's hash is publish's.
	v := module.Version{Path: "corp.example/priv", Version: "v1.0.0"}
	name, _ := modfiles.Name(v, modfiles.Zip)
	zipFile := filepath.Join(store, filepath.FromSlash(name))
	cf, err := modzip.CheckZip(v, zipFile)
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		t.Fatalf("published zip breaks the rules: %v", err)
	}
	for _, f := range cf.Valid {
		if strings.HasPrefix(f, "vendor/") || strings.HasPrefix(f, "nested/") || strings.HasPrefix(f, ".git/") {
			t.Errorf("zip holds %s", f)
		}
	}
	if got, _ := dirhash.HashZip(zipFile, dirhash.Hash1); got != h1 {
		t.Errorf("stored zip hash %s, publish printed %s", got, h1)
	}
	out, err = testupstream.RunGo(t, proj, env, "mod", "download", "-json", "corp.example/priv@v1.0.0")
	var dl struct{ Sum, GoModSum string }
	if err != nil || json.Unmarshal([]byte(out), &dl) != nil || dl.Sum != h1 {
		t.Fatalf("go mod download -json: Sum %q, publish printed %s (%v)\n%s", dl.Sum, h1, err, out)
	}

	// 7. Delete v1.1.0 over HTTP: the go command sees it gone.
	mf(t, "delete", "--server", url, "--token", write, "--reason", "leaked a credential", "corp.example/priv@v1.1.0")
	env2 := append(testupstream.GoEnv(t, url), "GONOSUMDB=corp.example", sharedGoCache(t))
	out, err = testupstream.RunGo(t, proj, env2, "mod", "download", "corp.example/priv@v1.1.0")
	if err == nil || !strings.Contains(out, "410 Gone") || !strings.Contains(out, "leaked a credential") {
		t.Fatalf("download of a deleted version: %v\n%s", err, out)
	}
	out, err = testupstream.RunGo(t, proj, env2, "list", "-m", "-versions", "corp.example/priv")
	if err != nil || strings.TrimSpace(out) != "corp.example/priv v1.0.0 v1.2.0" {
		t.Fatalf("versions after delete: %v\n%s", err, out)
	}
	// And can never come back.
	out, err = mfErr(t, "publish", "--server", url, "--token", write, "corp.example/priv@v1.1.0", src)
	if err == nil || !strings.Contains(out, "was deleted") {
		t.Fatalf("publish of a deleted version: %v\n%s", err, out)
	}
	// A local delete needs a reason.
	if out, err := mfErr(t, "delete", "--store", store, "corp.example/priv@v1.2.0"); err == nil || !strings.Contains(out, "--reason") {
		t.Fatalf("delete without a reason: %v\n%s", err, out)
	}

	// 8. The audit log has all of it, and verifies.
	var es []audit.Entry
	if err := json.Unmarshal([]byte(mf(t, "audit", "show", "--store", store, "--json")), &es); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if (e.Action == audit.ActionPublish || e.Action == audit.ActionDelete) && e.Result != audit.ResultPending {
			got = append(got, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Target, e.Result))
		}
	}
	local := localUser(t)
	want := []string{
		local + " publish corp.example/priv@v1.0.0 ok",
		local + " publish corp.example/priv@v1.0.0 denied",
		"token:release publish corp.example/priv@v1.1.0 ok",
		"token:release publish corp.example/priv@v1.1.0 denied",
		local + " publish corp.example/priv@v1.2.0 ok",
		"token:release delete corp.example/priv@v1.1.0 ok",
		"token:release publish corp.example/priv@v1.1.0 denied",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	out = mf(t, "audit", "show", "--store", store, "--action", "delete", "--target", "priv@v1.1.0")
	if !strings.Contains(out, "reason=leaked a credential") {
		t.Errorf("audit show --action delete:\n%s", out)
	}
	mf(t, "audit", "verify", "--store", store)
}

func localUser(t *testing.T) string {
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		t.Fatal(err)
	}
	return "local:" + strings.TrimSpace(string(out))
}

// TestAuditTamper makes a real log with the commands, then edits, removes,
// inserts and swaps lines in copies of it: audit verify names the bad
// entry each time.
func TestAuditTamper(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"go.mod": "module corp.example/t\n", "t.go": "package t\n"})
	addToken(t, store, "a", "read")
	addToken(t, store, "b", "write")
	mf(t, "publish", "--store", store, "corp.example/t@v1.0.0", src)
	mf(t, "delete", "--store", store, "--reason", "test", "corp.example/t@v1.0.0")
	mf(t, "token", "revoke", "--store", store, "a")
	mf(t, "audit", "verify", "--store", store)
	head := strings.TrimSpace(mf(t, "audit", "head", "--store", store))
	if !strings.HasPrefix(head, "10:") {
		t.Fatalf("audit head = %q, want entry 10 (intent and outcome of 5 changes)", head)
	}
	orig, err := os.ReadFile(filepath.Join(store, "audit", audit.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(orig), "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	if len(lines) != 10 {
		t.Fatalf("log has %d lines, want 10:\n%s", len(lines), orig)
	}
	var forged audit.Entry
	json.Unmarshal([]byte(lines[1]), &forged)
	forged.Target, forged.Detail = "forged", nil
	fb, _ := json.Marshal(forged)

	for _, tc := range []struct {
		name     string
		change   func(l []string) []string
		wantLine int
	}{
		{"edit", func(l []string) []string { l[2] = strings.Replace(l[2], `"b"`, `"c"`, 1); return l }, 3},
		{"edit last", func(l []string) []string { l[9] = strings.Replace(l[9], `"a"`, `"z"`, 1); return l }, 10},
		{"delete", func(l []string) []string { return append(l[:1:1], l[2:]...) }, 2},
		{"delete last", func(l []string) []string { return l[:9] }, 10},
		{"insert", func(l []string) []string {
			return append(append(append([]string{}, l[:2]...), string(fb)+"\n"), l[2:]...)
		}, 3},
		{"swap", func(l []string) []string { l[1], l[2] = l[2], l[1]; return l }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "store")
			os.MkdirAll(filepath.Join(cp, "audit"), 0o700)
			hb, _ := os.ReadFile(filepath.Join(store, "audit", audit.HeadFile))
			os.WriteFile(filepath.Join(cp, "audit", audit.HeadFile), hb, 0o600)
			tampered := strings.Join(tc.change(append([]string{}, lines...)), "")
			if tampered == string(orig) {
				t.Fatal("the change changed nothing")
			}
			os.WriteFile(filepath.Join(cp, "audit", audit.LogFile), []byte(tampered), 0o600)
			out, err := mfErr(t, "audit", "verify", "--store", cp)
			if err == nil {
				t.Fatalf("audit verify passed a tampered log:\n%s", tampered)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Errorf("audit verify of a tampered log: %v, want exit code 3 (security failure)", err)
			}
			if want := fmt.Sprintf("line %d ", tc.wantLine); !strings.Contains(out, want) || !strings.Contains(out, "TAMPERED") {
				t.Fatalf("audit verify does not name %q:\n%s", want, out)
			}
			// Against the head written down, a bare copy of the file is caught too.
			file := filepath.Join(t.TempDir(), "log.jsonl")
			os.WriteFile(file, []byte(tampered), 0o600)
			if out, err := mfErr(t, "audit", "verify", "--file", file, "--head", head); err == nil {
				t.Fatalf("audit verify --file --head passed a tampered log:\n%s", out)
			}
		})
	}
}
