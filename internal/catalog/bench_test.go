package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// The benchmarks run over synthetic stores of 1k, 10k and 100k module
// versions: ten versions a module (nine complete, one go.mod-only), paths
// spread over 40 hosts with upper-case letters (as ../shared's
// synth-cache.py makes them), and go.mod files that require one popular
// module and two others, so that the reverse index has work to do. The
// files are written straight into a store directory under the system's
// temporary directory, once per size, and reused by later runs (remove
// modferry-catalog-bench-* there to regenerate).
//
//	go test ./internal/catalog -run '^$' -bench 'Search|Module' -benchtime 4000x
//	go test ./internal/catalog -run '^$' -bench Build -benchtime 1x
//
// reportHeap adds the heap in use after a build, its objects, and the
// time of a full collection (gc-ms: what marking the index costs a
// server's collector in every cycle).
//
// BenchmarkSearch and BenchmarkModule run 16 clients at once and report
// the 50th and 99th percentile latency of one query; BenchmarkBuild the
// time of a full build and the heap in use after it.
//
// MODFERRY_BENCH_STORE=DIR runs them over the store in DIR instead (for
// one filled by 'modferry import --cache-dir' from synth-cache.py's
// output); its sub-benchmarks are named "store".
var benchSizes = []int{1_000, 10_000, 100_000}

// benchCases names the stores to run over: the synthetic sizes, or the
// store MODFERRY_BENCH_STORE names.
func benchCases(b *testing.B) []string {
	if dir := os.Getenv("MODFERRY_BENCH_STORE"); dir != "" {
		return []string{"store"}
	}
	var out []string
	for _, n := range benchSizes {
		out = append(out, strconv.Itoa(n))
	}
	return out
}

// benchDir returns the store directory of a case.
func benchDir(b *testing.B, name string) string {
	if name == "store" {
		return os.Getenv("MODFERRY_BENCH_STORE")
	}
	n, _ := strconv.Atoi(name)
	dir, _ := benchStore(b, n)
	return dir
}

const benchClients = 16

func benchPath(i int) string {
	hosts := 40
	if i%hosts < 20 {
		return fmt.Sprintf("github.com/Synth%d/Mod%05d", i%hosts, i)
	}
	return fmt.Sprintf("example.com/lib%d/Mod%05d", i%hosts-20, i)
}

// benchStore returns the directory of a synthetic store of n versions.
func benchStore(b *testing.B, n int) (dir string, modulesN int) {
	b.Helper()
	const perModule = 10
	modulesN = n / perModule
	dir = filepath.Join(os.TempDir(), "modferry-catalog-bench-"+strconv.Itoa(n))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return dir, modulesN
	}
	b.Logf("writing a synthetic store of %d module versions in %s", n, dir)
	os.RemoveAll(dir)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for m := range modulesN {
		path := benchPath(m)
		vdir, err := modfiles.VersionDir(path)
		if err != nil {
			b.Fatal(err)
		}
		vdir = filepath.Join(dir, filepath.FromSlash(vdir))
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			b.Fatal(err)
		}
		var list []byte
		for v := range perModule {
			ver := fmt.Sprintf("v1.%d.%d", v/10, v%10)
			gomod := fmt.Sprintf("module %s\n\ngo 1.21\n\nrequire (\n\t%s v1.0.0\n\t%s v1.0.1\n\t%s v1.0.2\n)\n",
				path, benchPath(0), benchPath(r.IntN(modulesN)), benchPath(r.IntN(modulesN)))
			write := func(ext string, data []byte) {
				if err := os.WriteFile(filepath.Join(vdir, ver+ext), data, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			write(".mod", []byte(gomod))
			if v == perModule-1 {
				continue // go.mod-only
			}
			zip := fmt.Appendf(nil, "%s@%s %0200d", path, ver, m)
			write(".zip", zip)
			write(".ziphash", []byte(fakeH1(string(zip))+"\n"))
			info, _ := json.Marshal(modules.InfoJSON{Version: ver, Time: t0.Add(time.Duration(m*perModule+v) * time.Minute)})
			write(".info", info)
			list = fmt.Appendf(list, "%s\n", ver)
		}
		if err := os.WriteFile(filepath.Join(vdir, "list"), list, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// One import record naming every module version.
	var mvs []string
	for m := range modulesN {
		for v := range perModule {
			mvs = append(mvs, module.Version{Path: benchPath(m), Version: fmt.Sprintf("v1.%d.%d", v/10, v%10)}.String())
		}
	}
	st, err := store.NewDisk(dir)
	if err != nil {
		b.Fatal(err)
	}
	record(b, st, "bench", t0, mvs...)
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir, modulesN
}

// benchCatalog builds the catalog of a case and returns it with its
// module paths, the first being the one most modules require.
func benchCatalog(b *testing.B, name string) (*Catalog, []string) {
	st, err := store.NewDisk(benchDir(b, name))
	if err != nil {
		b.Fatal(err)
	}
	c := New(st)
	if err := c.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	c.mu.RLock()
	paths := make([]string, 0, len(c.mods))
	for p := range c.mods {
		paths = append(paths, p)
	}
	c.mu.RUnlock()
	if len(paths) == 0 {
		b.Fatal("empty store")
	}
	slices.Sort(paths)
	if i := slices.Index(paths, benchPath(0)); i > 0 {
		paths[0], paths[i] = paths[i], paths[0]
	}
	return c, paths
}

func reportHeap(b *testing.B) {
	runtime.GC()
	// A full collection of a heap that is mostly the index: what marking
	// the index costs each cycle of a server's collector, which every
	// request that allocates meanwhile may help with or wait for: the
	// median wall time of five forced collections.
	var gcs []time.Duration
	for range 5 {
		t := time.Now()
		runtime.GC()
		gcs = append(gcs, time.Since(t))
	}
	slices.Sort(gcs)
	b.ReportMetric(float64(gcs[2].Microseconds())/1000, "gc-ms")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(ms.HeapObjects), "heap-objects")
	// The process's peak resident set, where the system tells it.
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(status)) {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				if kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB")); err == nil {
					b.ReportMetric(float64(kb)/1024, "peak-rss-MB")
				}
			}
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, name := range benchCases(b) {
		b.Run(name, func(b *testing.B) {
			st, err := store.NewDisk(benchDir(b, name))
			if err != nil {
				b.Fatal(err)
			}
			var c *Catalog
			cpu0, cpuOK := cpuTime()
			b.ResetTimer()
			for range b.N {
				c = New(st)
				if err := c.Refresh(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// CPU time says what wall time hides on a busy machine.
			if cpu1, _ := cpuTime(); cpuOK {
				b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			}
			reportHeap(b)
			// A second pass over an unchanged store: what the server's
			// periodic refresh costs.
			// (Five passes, for the CPU time, which the clock counts in
			// coarse ticks.)
			start := time.Now()
			cpu0, _ = cpuTime()
			for range 5 {
				if err := c.Refresh(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/5000, "refresh-ms")
			if cpu1, _ := cpuTime(); cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/5000, "refresh-cpu-ms")
			}
			// How soon search results are complete on a cold start.
			mods := len(c.mods)
			c = New(st)
			start = time.Now()
			done := make(chan error, 1)
			go func() { done <- c.Refresh(context.Background()) }()
			for {
				if s, _ := c.Stats(context.Background()); s != nil && s.Modules == mods {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "searchable-ms")
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// concurrently runs b.N calls of f spread over benchClients goroutines
// and reports latency percentiles.
func concurrently(b *testing.B, f func(r *rand.Rand, i int) error) {
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	cpu0, cpuOK := cpuTime()
	b.ResetTimer()
	for w := range benchClients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; i < b.N; i += benchClients {
				start := time.Now()
				if err := f(r, i); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if cpu1, _ := cpuTime(); cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(float64(len(all))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.90), "p90-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func BenchmarkSearch(b *testing.B) {
	for _, name := range benchCases(b) {
		b.Run(name, func(b *testing.B) {
			c, paths := benchCatalog(b, name)
			ctx := context.Background()
			concurrently(b, func(r *rand.Rand, i int) error {
				p := paths[r.IntN(len(paths))]
				var q Query
				switch i % 4 {
				case 0: // the last element of a path: few matches
					q.Q = strings.ToUpper(p[strings.LastIndexByte(p, '/')+1:])
				case 1: // a substring that matches many, and the next page
					q.Q = p[:min(len(p), 12)]
					q.Limit = 20
				case 2: // a prefix
					q.Prefix = p[:strings.IndexByte(p, '/')+1]
				default: // a substring that matches nothing: the whole text is scanned
					q.Q = "no-such-module"
				}
				res, err := c.Search(ctx, q)
				if err == nil && i%4 == 1 && res.Next != "" {
					q.Cursor = res.Next
					_, err = c.Search(ctx, q)
				}
				return err
			})
			reportHeap(b)
			runtime.KeepAlive(c)
		})
	}
}

// BenchmarkModule asks for module pages, most of them for the first time
// (their .info and .ziphash files are read then, and their zips for the
// licences); BenchmarkModuleWarm asks for pages every module has had
// once, as a server that has run for a while answers them;
// BenchmarkModuleServed asks for pages, most for the first time, of a
// catalog that has done the background work of Run (the details and the
// licences of every version), as a server answers them once its start-up
// work is done: its cpu-ms/op should not grow with the store.
func BenchmarkModule(b *testing.B)       { benchModule(b, false, false) }
func BenchmarkModuleWarm(b *testing.B)   { benchModule(b, true, false) }
func BenchmarkModuleServed(b *testing.B) { benchModule(b, false, true) }

func benchModule(b *testing.B, warm, served bool) {
	for _, name := range benchCases(b) {
		b.Run(name, func(b *testing.B) {
			c, paths := benchCatalog(b, name)
			ctx := context.Background()
			if served {
				c.ReadOnly = true // never write into a MODFERRY_BENCH_STORE
				c.fillAllLicenses(ctx)
			}
			if warm {
				for _, p := range paths {
					if _, err := c.Module(ctx, p, ModuleOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			concurrently(b, func(r *rand.Rand, i int) error {
				// One request in 16 is the module most others require
				// (the largest dependents list).
				p := paths[r.IntN(len(paths))]
				if i%16 == 0 {
					p = paths[0]
				}
				_, err := c.Module(ctx, p, ModuleOptions{})
				return err
			})
			reportHeap(b)
			runtime.KeepAlive(c)
		})
	}
}
