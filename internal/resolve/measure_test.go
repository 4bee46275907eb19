package resolve

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestLiveMeasureCommands reports how many module files each go command
// requests on its own, starting from an empty module cache, for the live
// project. It runs only with MODFERRY_LIVE=1.
func TestLiveMeasureCommands(t *testing.T) {
	if os.Getenv("MODFERRY_LIVE") != "1" {
		t.Skip("set MODFERRY_LIVE=1 to run against the real upstream proxy")
	}
	proj := filepath.Join(t.TempDir(), "live")
	writeTree(t, proj, liveProject)
	work := t.TempDir()
	t.Cleanup(func() { removeAll(work) })
	ctx := context.Background()
	ue, err := readGoEnv(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := parseProxyList(envOr("MODFERRY_LIVE_GOPROXY", ue.GOPROXY))
	f := &fetcher{list: list, client: &http.Client{Timeout: time.Minute}, retries: 4, backoff: 500 * time.Millisecond}
	for i, args := range [][]string{
		{"mod", "download", "all"},
		{"list", "-m", "all"},
		{"list", "-deps", "-test", "./..."},
		{"build", "./..."},
		{"test", "./..."},
		{"mod", "tidy"},
		{"mod", "verify"},
	} {
		rec := newRecorder(ctx, filepath.Join(work, "download"), f, 8, "", nil)
		if err := rec.start(); err != nil {
			t.Fatal(err)
		}
		run := filepath.Join(work, "run"+strconv.Itoa(i))
		g := &goRunner{rec: rec, env: childEnv(ue, nil, []string{
			"GOPATH=" + filepath.Join(run, "gopath"),
			"GOMODCACHE=" + filepath.Join(run, "gopath", "pkg", "mod"),
			"GOCACHE=" + filepath.Join(run, "gocache"),
			"GOPROXY=" + rec.url,
			"GOTOOLCHAIN=local",
		})}
		pc, err := copyProject(proj, filepath.Join(run, "p"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := g.run(ctx, proj, pc.Root, moduleMode, args...); err != nil {
			t.Fatal(err)
		}
		rec.close()
		c := rec.order[len(rec.order)-1]
		t.Logf("fresh cache: go %-28s info=%-3d mod=%-3d zip=%-3d (%v)", c.Command, c.Info, c.Mod, c.Zip, time.Since(start).Round(time.Millisecond))
		removeAll(run)
	}
}
