package resolve

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkLiveCommands measures, for the live project, how many module
// files each go command requests on its own starting from an empty module
// cache, and how long it takes; the counts are reported as the metrics
// info/op, mod/op and zip/op. It runs only with MODFERRY_LIVE=1:
//
//	MODFERRY_LIVE=1 go test -run '^$' -bench LiveCommands ./internal/resolve/
func BenchmarkLiveCommands(b *testing.B) {
	if os.Getenv("MODFERRY_LIVE") != "1" {
		b.Skip("set MODFERRY_LIVE=1 to run against the real upstream proxy")
	}
	proj := filepath.Join(b.TempDir(), "live")
	writeTree(b, proj, liveProject)
	ctx := context.Background()
	ue, err := readGoEnv(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	list, _ := parseProxyList(envOr("MODFERRY_LIVE_GOPROXY", ue.GOPROXY))
	f := &fetcher{list: list, client: &http.Client{Timeout: time.Minute}, retries: 4, backoff: 500 * time.Millisecond}
	for _, args := range [][]string{
		{"mod", "download", "all"},
		{"list", "-m", "all"},
		{"list", "-deps", "-test", "./..."},
		{"build", "./..."},
		{"test", "./..."},
		{"mod", "tidy"},
		{"mod", "verify"},
	} {
		b.Run(strings.Join(args, "_"), func(b *testing.B) {
			var info, mod, zip int
			for b.Loop() {
				b.StopTimer()
				work := b.TempDir()
				b.Cleanup(func() { removeAll(work) }) // the module cache is read-only
				rec := newRecorder(ctx, filepath.Join(work, "download"), f, 8, "", nil)
				if err := rec.start(); err != nil {
					b.Fatal(err)
				}
				g := &goRunner{rec: rec, env: childEnv(ue, nil, []string{
					"GOPATH=" + filepath.Join(work, "gopath"),
					"GOMODCACHE=" + filepath.Join(work, "gopath", "pkg", "mod"),
					"GOCACHE=" + filepath.Join(work, "gocache"),
					"GOTOOLCHAIN=local",
				})}
				pc, err := copyProject(proj, filepath.Join(work, "p"))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				_, err = g.run(ctx, proj, pc.Root, moduleMode, args...)
				b.StopTimer()
				rec.close()
				if err != nil {
					b.Fatal(err)
				}
				c := rec.order[len(rec.order)-1]
				info, mod, zip = info+c.Info, mod+c.Mod, zip+c.Zip
				b.StartTimer()
			}
			b.ReportMetric(float64(info)/float64(b.N), "info/op")
			b.ReportMetric(float64(mod)/float64(b.N), "mod/op")
			b.ReportMetric(float64(zip)/float64(b.N), "zip/op")
		})
	}
}
