//go:build unix

package publish

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/proxy"
	"github.com/modferry/modferry/internal/store"
)

var crashVersion = module.Version{Path: "corp.example/crash", Version: "v1.0.0"}

// TestHelperPublishKilled is not a test: run by TestPublishKilled in a
// child process, it publishes into $MODFERRY_CRASH_STORE and is killed
// with SIGKILL just before the commit.
func TestHelperPublishKilled(t *testing.T) {
	root := os.Getenv("MODFERRY_CRASH_STORE")
	if root == "" {
		t.Skip("helper process only")
	}
	st, err := store.NewDisk(root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromDir(crashVersion, writeTree(t, map[string]string{"go.mod": "module corp.example/crash\n", "c.go": "package crash\n"}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	testHookBeforeCommit = func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	Publish(context.Background(), &modules.Repo{Store: st}, m)
	t.Fatal("not killed")
}

// killedPublish runs a publish into root that is killed by SIGKILL during
// its commit, and checks that it left the state the probe found: a .mod,
// no .info.
func killedPublish(t *testing.T, root string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPublishKilled$")
	// The killed helper cannot remove its own t.TempDir: give it a TMPDIR
	// inside this test's, which this test's cleanup removes.
	cmd.Env = append(os.Environ(), "MODFERRY_CRASH_STORE="+root, "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed: %v\n%s", err, out)
	}
	dir := filepath.Join(root, "download/corp.example/crash/@v")
	if _, err := os.Stat(filepath.Join(dir, "v1.0.0.mod")); err != nil {
		t.Fatalf("crash state: no .mod: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "v1.0.0.info")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("crash state: .info exists: %v", err)
	}
}

// TestPublishKilled: SIGKILL during the publish commit must not use up the
// version. Its files are not served; the next publish of the version
// rolls the interrupted one back and succeeds; so does Recover (what the
// server runs at start-up).
func TestPublishKilled(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	killedPublish(t, root)
	st, _ := store.NewDisk(root)
	repo := &modules.Repo{Store: st}

	h := proxy.New(repo, proxy.Options{})
	for _, p := range []string{"/corp.example/crash/@v/v1.0.0.mod", "/corp.example/crash/@v/v1.0.0.zip", "/corp.example/crash/@v/v1.0.0.info"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s of an interrupted publish: %d, want 404", p, w.Code)
		}
	}

	m, err := FromDir(crashVersion, writeTree(t, map[string]string{"go.mod": "module corp.example/crash\n", "c.go": "package crash\n\n// v2 of the content\n"}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := Publish(ctx, repo, m); err != nil {
		t.Fatalf("publish after the crash: %v", err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/corp.example/crash/@v/v1.0.0.mod", nil))
	if w.Code != 200 {
		t.Fatalf(".mod after the publish: %d", w.Code)
	}

	// Start-up recovery, on another store.
	root2 := t.TempDir()
	killedPublish(t, root2)
	st2, _ := store.NewDisk(root2)
	rolled, err := Recover(ctx, &modules.Repo{Store: st2})
	if err != nil || len(rolled) != 1 || rolled[0] != (Recovery{Version: crashVersion}) {
		t.Fatalf("Recover = %v, %v; want %v rolled back", rolled, err, crashVersion)
	}
	for _, k := range []modfiles.Kind{modfiles.Mod, modfiles.Zip, modfiles.ZipHash} {
		n, _ := modfiles.Name(crashVersion, k)
		if ok, _ := store.Exists(ctx, st2, n); ok {
			t.Errorf("%s left after Recover", n)
		}
	}
	if ents, _ := st2.List(ctx, modfiles.PendingRoot+"/corp.example/crash/@v"); len(ents) != 0 {
		t.Errorf("intent left after Recover: %v", ents)
	}
}

// TestPublishInProgressNotRolledBack: a publish running in this process is
// not taken for an interrupted one.
func TestPublishInProgressNotRolledBack(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	m, err := FromDir(crashVersion, writeTree(t, map[string]string{"go.mod": "module corp.example/crash\n"}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	testHookBeforeCommit = func() {
		rolled, err := Recover(ctx, repo)
		if err != nil || len(rolled) != 0 {
			t.Errorf("Recover during a live publish: %v, %v", rolled, err)
		}
		if err := Publish(ctx, repo, m); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "is being published (by process") {
			t.Errorf("concurrent publish of the same version: %v; want it named as being published, by whom", err)
		}
	}
	defer func() { testHookBeforeCommit = nil }()
	if err := Publish(ctx, repo, m); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteDuringPublish: a delete of a version being published is
// refused (its files are the publish's), and a publish whose version was
// deleted under it anyway (a writer that skipped that check) fails as
// deleted instead of committing a version whose files are gone.
func TestDeleteDuringPublish(t *testing.T) {
	ctx := context.Background()
	rec := modules.GoneRecord{Time: time.Now().UTC(), Actor: "test", Reason: "withdrawn"}
	build := func() *Module {
		m, err := FromDir(crashVersion, writeTree(t, map[string]string{"go.mod": "module corp.example/crash\n"}), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	defer func() { testHookBeforeCommit = nil }()

	repo := newRepo(t)
	testHookBeforeCommit = func() {
		if err := Delete(ctx, repo, crashVersion, rec); !errors.Is(err, ErrBusy) {
			t.Errorf("delete during the publish: %v, want ErrBusy", err)
		}
	}
	if err := Publish(ctx, repo, build()); err != nil {
		t.Fatalf("the publish the delete waited for: %v", err)
	}

	repo = newRepo(t)
	testHookBeforeCommit = func() {
		if err := repo.Delete(ctx, crashVersion, rec); err != nil {
			t.Errorf("deleting under the publish: %v", err)
		}
	}
	var ee *ExistsError
	if err := Publish(ctx, repo, build()); !errors.As(err, &ee) || !ee.Deleted {
		t.Fatalf("publish of a version deleted under it: %v, want ExistsError{Deleted}", err)
	}
	info, _ := modfiles.Name(crashVersion, modfiles.Info)
	if ok, _ := store.Exists(ctx, repo.Store, info); ok {
		t.Error("the publish committed the deleted version's .info")
	}
}
