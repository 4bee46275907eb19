package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
)

// mountTmpfs mounts a tmpfs of size (mount(8) syntax) on dir until the
// test ends. It needs root; the tests that call it run with
// MODFERRY_SLOW=1 and fail, not skip, without it.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("this test mounts a tmpfs and needs root with CAP_SYS_ADMIN (mount -t tmpfs): %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// fillDisk writes a file in dir until its file system is full and
// returns the file's path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(f, io.LimitReader(zeros{}, 1<<30))
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
	}
	return p
}

func httpDo(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type verifyResult struct {
	OK          bool          `json:"ok"`
	Entries     int           `json:"entries"`
	Torn        any           `json:"tornLine"`
	Recoveries  []audit.Entry `json:"recoveries"`
	Unconfirmed []audit.Entry `json:"unconfirmed"`
}

func auditVerify(t *testing.T, store string) verifyResult {
	t.Helper()
	var v verifyResult
	out := mf(t, "audit", "verify", "--store", store, "--json")
	if err := json.Unmarshal([]byte(out), &v); err != nil || !v.OK {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	return v
}

// TestAuditDiskFull puts the audit log on a tiny tmpfs, leaves a torn last
// line as a crash would, fills the disk, and tries every kind of change,
// from the command line and over HTTP: each is refused (507 over HTTP)
// and changes nothing, while the server restarts and serves GOPROXY and
// checksum-database reads. Once space is back, the torn line is cut and
// recorded, changes work, verify is clean with no change unaccounted for,
// and serve restarts.
func TestAuditDiskFull(t *testing.T) {
	slow(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	auditDir := filepath.Join(store, "audit")
	mountTmpfs(t, auditDir, "1m")

	key, pub := bundletest.NewKey(t)
	pubText, _ := pub.MarshalText()
	pubFile := filepath.Join(dir, "ferry.pub")
	os.WriteFile(pubFile, pubText, 0o644)
	b := filepath.Join(dir, "b.tar.zst")
	bundletest.Write(t, b, bundletest.RandomModules(7, 2, 1000), key)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"go.mod": "module corp.example/full\n", "full.go": "package full\n"})

	admin := addToken(t, store, "admin", "read,write,delete,admin")
	addToken(t, store, "victim", "read")
	mf(t, "publish", "--store", store, "corp.example/full@v1.0.0", src)
	db := checksumdbtest.New(t, "sum.test", t.TempDir(), 0)
	writeFiles(t, filepath.Join(store, "sumdb", "sum.test"), map[string]string{"key": db.Key + "\n", "latest": string(db.SignedHead(t))})
	url := serve(t, store, "--pubkey", pubFile)

	// A crash in the middle of an append, then a full disk.
	logFile := filepath.Join(auditDir, audit.LogFile)
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":99,"time":"2026-`)
	f.Close()
	filler := fillDisk(t, auditDir)

	refused := func(what, wantText string, args ...string) {
		t.Helper()
		out, err := mfErr(t, args...)
		if err == nil || !strings.Contains(out, wantText) {
			t.Errorf("%s with a full audit disk: %v, want a failure saying %q\n%s", what, err, wantText, out)
		}
	}
	refused("local publish", "no space", "publish", "--store", store, "corp.example/full@v1.1.0", src)
	refused("local delete", "no space", "delete", "--store", store, "--reason", "r", "corp.example/full@v1.0.0")
	refused("local token add", "no space", "token", "add", "--store", store, "--name", "newtok", "--scope", "read")
	refused("local token revoke", "no space", "token", "revoke", "--store", store, "victim")
	refused("local import", "no space", "import", "--pubkey", pubFile, "--store", store, b)
	refused("HTTP publish", "507", "publish", "--server", url, "--token", admin, "corp.example/full@v1.2.0", src)
	refused("HTTP delete", "507", "delete", "--server", url, "--token", admin, "--reason", "r", "corp.example/full@v1.0.0")
	refused("HTTP import", "507", "import", "--server", url, "--token", admin, b)
	if code, body := httpDo(t, "POST", url+"/api/v1/tokens", admin, `{"name":"newtok","scopes":["read"]}`); code != 507 || !strings.Contains(body, "no space") {
		t.Errorf("HTTP token add: %d %s", code, body)
	}
	if code, body := httpDo(t, "DELETE", url+"/api/v1/tokens/victim", admin, ""); code != 507 {
		t.Errorf("HTTP token revoke: %d %s", code, body)
	}

	// Nothing happened.
	vdir := filepath.Join(store, "download", "corp.example", "full", "@v")
	names, _ := os.ReadDir(vdir)
	for _, n := range names {
		if !strings.HasPrefix(n.Name(), "v1.0.0.") && n.Name() != "list" {
			t.Errorf("refused publish left %s", n.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(store, "bundles")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused import left an import record: %v", err)
	}
	var toks []struct{ Name string }
	json.Unmarshal([]byte(mf(t, "token", "list", "--store", store, "--json")), &toks)
	if len(toks) != 2 || toks[0].Name != "admin" || toks[1].Name != "victim" {
		t.Errorf("tokens after refused changes: %+v", toks)
	}

	// Reads go on, and a server starts on the full disk.
	url2 := serve(t, store, "--pubkey", pubFile)
	for _, u := range []string{url, url2} {
		for _, p := range []string{"/corp.example/full/@v/v1.0.0.info", "/corp.example/full/@v/v1.0.0.zip", "/sumdb/sum.test/latest"} {
			if code, body := httpDo(t, "GET", u+p, admin, ""); code != 200 {
				t.Errorf("GET %s with a full audit disk: %d %s", p, code, body)
			}
		}
	}
	out := mf(t, "audit", "verify", "--store", store)
	if !strings.Contains(out, "torn: line") || strings.Contains(out, "TAMPERED") {
		t.Errorf("audit verify of the torn log:\n%s", out)
	}

	// Space is back.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	v := auditVerify(t, store)
	if v.Torn == nil || len(v.Unconfirmed) != 0 {
		t.Errorf("before the next change: %+v", v)
	}
	mf(t, "token", "add", "--store", store, "--name", "after", "--scope", "read")
	mf(t, "publish", "--server", url2, "--token", admin, "corp.example/full@v1.2.0", src)
	if code, body := httpDo(t, "DELETE", url+"/api/v1/tokens/victim", admin, ""); code != 200 {
		t.Errorf("HTTP token revoke once space is back: %d %s", code, body)
	}
	serve(t, store)
	v = auditVerify(t, store)
	if v.Torn != nil || len(v.Recoveries) != 1 || v.Recoveries[0].Detail["tornBytes"] != "23" || len(v.Unconfirmed) != 0 {
		t.Errorf("after recovery: %+v", v)
	}
	var es []audit.Entry
	json.Unmarshal([]byte(mf(t, "audit", "show", "--store", store, "--json", "--action", audit.ActionServerStart)), &es)
	if len(es) != 3 || es[1].Detail["audit.delayed"] != "true" {
		t.Errorf("server.start entries (the one on the full disk queued and written later): %+v", es)
	}
}
