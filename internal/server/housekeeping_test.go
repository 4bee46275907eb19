package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/publish"
	"github.com/modferry/modferry/internal/store"
)

// TestHousekeep: what kill -9 leaves (an upload file, an import stage, a
// store temporary file, an interrupted publish) is removed or rolled back,
// while an upload in progress is left alone and completes.
func TestHousekeep(t *testing.T) {
	ctx := context.Background()
	f, w, data := bundleFixture(t, Config{}, 2, 1000)
	old := time.Now().Add(-time.Hour)
	leftover := func(rel string, size int) string {
		p := filepath.Join(f.root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
		os.Chtimes(filepath.Dir(p), old, old)
		return p
	}
	upload := leftover(filepath.Join(UploadsDir, "bundle-123.tar.zst"), 5000)
	publishTmp := leftover(filepath.Join(UploadsDir, "publish-456.zip"), 3000)
	stage := filepath.Dir(leftover(filepath.Join(importer.StagingDir, "stage-789", "m000000"), 2000))
	tmp := leftover("download/corp.example/a/@v/"+store.TempPrefix+"1", 100)

	// An interrupted publish: intent of a process that is gone, .mod
	// and .zip, no .info.
	dead := exec.Command("true")
	dead.Run()
	v := module.Version{Path: "corp.example/int", Version: "v1.0.0"}
	intent, _ := modfiles.PendingName(v)
	host, _ := os.Hostname()
	f.st.Put(ctx, intent, bytes.NewReader([]byte(fmt.Sprintf(`{"host":%q,"pid":%d,"started":"2026-01-01T00:00:00Z"}`, host, dead.Process.Pid))))
	for _, k := range []modfiles.Kind{modfiles.Mod, modfiles.Zip} {
		n, _ := modfiles.Name(v, k)
		f.st.Put(ctx, n, bytes.NewReader([]byte("x")))
	}
	// One interrupted after its commit: its .info is there.
	vc := module.Version{Path: "corp.example/int", Version: "v1.1.0"}
	intentC, _ := modfiles.PendingName(vc)
	// Its publish recorded an audit intent (entry 1 of this test's log).
	in, err := f.audit.Begin(ctx, audit.Entry{Actor: "test", Action: audit.ActionPublish, Target: vc.String()})
	if err != nil {
		t.Fatal(err)
	}
	f.st.Put(ctx, intentC, bytes.NewReader([]byte(fmt.Sprintf(`{"host":%q,"pid":%d,"started":"2026-01-01T00:00:00Z","auditIntent":%d}`, host, dead.Process.Pid, in.Entry().Seq))))
	for _, k := range []modfiles.Kind{modfiles.Mod, modfiles.Zip, modfiles.Info} {
		n, _ := modfiles.Name(vc, k)
		f.st.Put(ctx, n, bytes.NewReader([]byte(`{"Version":"v1.1.0"}`)))
	}

	// An upload in progress, stalled after its first bytes.
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- f.do(req{method: "POST", path: api.BundlesPath, token: w, body: pr}).Code
	}()
	pw.Write(data[:len(data)/2])

	if err := f.srv.Housekeep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{upload, publishTmp, stage, tmp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived Housekeep: %v", p, err)
		}
	}
	for _, k := range []modfiles.Kind{modfiles.Mod, modfiles.Zip} {
		n, _ := modfiles.Name(v, k)
		if ok, _ := store.Exists(ctx, f.st, n); ok {
			t.Errorf("interrupted publish not rolled back: %s", n)
		}
	}
	if ok, _ := store.Exists(ctx, f.st, intent); ok {
		t.Error("intent of the interrupted publish survived")
	}
	// The audit log records both outcomes, which the publishes could not.
	lf, err := os.Open(f.audit.Path())
	if err != nil {
		t.Fatal(err)
	}
	es, err := audit.Read(lf, audit.Filter{Action: audit.ActionPublish})
	lf.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		if e.Detail["recovered"] != "" {
			got[e.Target] = e.Result
		}
	}
	if got[v.String()] != audit.ResultError || got[vc.String()] != audit.ResultOK {
		t.Errorf("audit entries of the recovered publishes: %v; want %s rolled back (error) and %s finished (ok)", got, v, vc)
	}
	// The finished one's entry is the outcome of its publish's intent.
	lf, err = os.Open(f.audit.Path())
	if err != nil {
		t.Fatal(err)
	}
	open, err := audit.Unconfirmed(lf)
	lf.Close()
	for _, e := range open {
		if e.Action == audit.ActionPublish {
			t.Errorf("publish intent left unconfirmed after housekeeping: %+v", e)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(f.root, importer.StagingDir)); len(ents) != 1 {
		t.Errorf("staging holds %d entries; want the live upload's stage only", len(ents))
	}
	pw.Write(data[len(data)/2:])
	pw.Close()
	if code := <-done; code != 200 {
		t.Fatalf("the upload in progress during Housekeep: %d", code)
	}
}

// TestStartHousekeeping: serve's start-up recovers an interrupted publish
// before it returns, and cleans the store's temporary files (a walk of the
// whole store) in the background.
func TestStartHousekeeping(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, _, _ := bundleFixture(t, Config{}, 2, 1000)
	old := time.Now().Add(-time.Hour)
	tmp := filepath.Join(f.root, "download/corp.example/a/@v/"+store.TempPrefix+"1")
	os.MkdirAll(filepath.Dir(tmp), 0o755)
	if err := os.WriteFile(tmp, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tmp, old, old)

	dead := exec.Command("true")
	dead.Run()
	v := module.Version{Path: "corp.example/int", Version: "v1.0.0"}
	intent, _ := modfiles.PendingName(v)
	host, _ := os.Hostname()
	f.st.Put(ctx, intent, bytes.NewReader([]byte(fmt.Sprintf(`{"host":%q,"pid":%d,"started":"2026-01-01T00:00:00Z"}`, host, dead.Process.Pid))))
	mod, _ := modfiles.Name(v, modfiles.Mod)
	f.st.Put(ctx, mod, bytes.NewReader([]byte("x")))

	f.srv.StartHousekeeping(ctx, time.Hour)
	if ok, _ := store.Exists(ctx, f.st, mod); ok {
		t.Error("StartHousekeeping returned before rolling back the interrupted publish")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(tmp); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the store's temporary file survived the background cleaning")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHousekeepUploadsElsewhere: on a store kept elsewhere with no
// TempDir, publish uploads go to the system's temporary directory, and
// Housekeep removes the ones a crash left there, not a publish's zip
// still in use (held, package scratch), nor files of other programs.
func TestHousekeepUploadsElsewhere(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	srv := New(Config{Store: store.NewMem(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	old := time.Now().Add(-time.Hour)
	file := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte("zip"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
		return p
	}
	crashed := []string{file("modferry-publish-1.zip"), file("modferry-canonical-2.zip"), file("modferry-fill-3.zip")}
	other := file("publish-3.zip")
	m, err := publish.FromDir(module.Version{Path: "corp.example/live", Version: "v1.0.0"}, writeModuleDir(t), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	os.Chtimes(m.ZipPath, old, old)
	if err := srv.Housekeep(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range crashed {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived Housekeep: %v", p, err)
		}
	}
	for _, p := range []string{other, m.ZipPath} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// writeModuleDir writes a small module's source directory.
func writeModuleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module corp.example/live\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "live.go"), []byte("package live\n"), 0o644)
	return dir
}
