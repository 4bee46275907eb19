// Command synthcache writes a synthetic GOMODCACHE download tree (the
// cache/download layout) for the scale benchmark (bench/scale.sh):
//
//	synthcache [flags] OUTDIR MODULES VERSIONS_PER_MODULE
//
// It is a Go port of the synth-cache.py the issue names, with the same
// layout: every module version is valid — a zip following the module zip
// rules (go.mod and one .go file), its .mod, .info (with a Time) and
// .ziphash (the dirhash h1: of the zip's files) — and module paths are
// spread over 40 hosts and hold upper-case letters (escaped with ! on
// disk), so that a store made of it exercises case-escaping at scale.
//
// Beyond the script:
//   - -big N adds one module, github.com/Synth0/Big, with N versions (the
//     module whose @v/list and @latest the benchmark asks for);
//   - -requires gives each go.mod three requirements (the first module,
//     which therefore has every other as a dependent, and two others picked
//     at random with a fixed seed), so that a catalog's reverse index has
//     work to do;
//   - -prefix P names the modules P/ModNNNNN instead (a small set of new
//     modules to bundle and import into a big store).
//
// The output depends only on the arguments. It runs on all CPUs.
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

var (
	big      = flag.Int("big", 0, "add github.com/Synth0/Big with this many versions")
	requires = flag.Bool("requires", false, "give each go.mod three requirements")
	prefix   = flag.String("prefix", "", "name the modules PREFIX/ModNNNNN instead of spreading them over 40 hosts")
)

func escape(p string) string {
	var b strings.Builder
	for _, c := range p {
		if 'A' <= c && c <= 'Z' {
			b.WriteByte('!')
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func modPath(m int) string {
	if *prefix != "" {
		return fmt.Sprintf("%s/Mod%05d", *prefix, m)
	}
	if h := m % 40; h < 20 {
		return fmt.Sprintf("github.com/Synth%d/Mod%05d", h, m)
	} else {
		return fmt.Sprintf("example.com/lib%d/Mod%05d", h-20, m)
	}
}

func version(v int) string { return fmt.Sprintf("v1.%d.%d", v/10, v%10) }

type file struct {
	name string
	data []byte
}

// h1 is golang.org/x/mod/sumdb/dirhash.Hash1 of files.
func h1(files []file) string {
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	var lines bytes.Buffer
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&lines, "%s  %s\n", hex.EncodeToString(sum[:]), f.name)
	}
	sum := sha256.Sum256(lines.Bytes())
	return "h1:" + base64.StdEncoding.EncodeToString(sum[:])
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "synthcache:", err)
		os.Exit(1)
	}
}

// writeModule writes the versions of module number m (path p).
func writeModule(out string, m int, p string, nver, nmod int) {
	dir := filepath.Join(out, filepath.FromSlash(escape(p)), "@v")
	must(os.MkdirAll(dir, 0o755))
	r := rand.New(rand.NewPCG(uint64(m), 7))
	var list strings.Builder
	pkg := strings.ToLower(p[strings.LastIndexByte(p, '/')+1:])
	for v := range nver {
		ver := version(v)
		list.WriteString(ver + "\n")
		gomod := fmt.Sprintf("module %s\n\ngo 1.21\n", p)
		if *requires && nmod > 1 && m != 0 {
			gomod += fmt.Sprintf("\nrequire (\n\t%s v1.0.0\n\t%s v1.0.1\n\t%s v1.0.2\n)\n",
				modPath(0), modPath(r.IntN(nmod)), modPath(r.IntN(nmod)))
		}
		src := fmt.Sprintf("package %s\n\n// V is the version.\nconst V = %q\n", pkg, ver)
		pre := p + "@" + ver + "/"
		files := []file{{pre + "go.mod", []byte(gomod)}, {pre + "m.go", []byte(src)}}
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		for _, f := range files {
			w, err := zw.Create(f.name)
			must(err)
			_, err = w.Write(f.data)
			must(err)
		}
		must(zw.Close())
		base := filepath.Join(dir, ver)
		must(os.WriteFile(base+".zip", zb.Bytes(), 0o644))
		must(os.WriteFile(base+".mod", []byte(gomod), 0o644))
		must(os.WriteFile(base+".ziphash", []byte(h1(files)+"\n"), 0o644))
		t := fmt.Sprintf("2025-%02d-%02dT%02d:00:00Z", 1+v%12, 1+m%28, v%24)
		must(os.WriteFile(base+".info", fmt.Appendf(nil, "{\"Version\": %q, \"Time\": %q}\n", ver, t), 0o644))
	}
	must(os.WriteFile(filepath.Join(dir, "list"), []byte(list.String()), 0o644))
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: synthcache [flags] OUTDIR MODULES VERSIONS_PER_MODULE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 3 {
		flag.Usage()
		os.Exit(2)
	}
	out := flag.Arg(0)
	nmod, err1 := strconv.Atoi(flag.Arg(1))
	nver, err2 := strconv.Atoi(flag.Arg(2))
	if err1 != nil || err2 != nil || nmod < 0 || nver < 0 || nver > 1000 {
		flag.Usage()
		os.Exit(2)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for m := int(next.Add(1) - 1); m < nmod; m = int(next.Add(1) - 1) {
				writeModule(out, m, modPath(m), nver, nmod)
			}
		})
	}
	wg.Wait()
	count := nmod * nver
	if *big > 0 {
		writeModule(out, nmod, "github.com/Synth0/Big", *big, nmod)
		count += *big
	}
	fmt.Printf("%d module versions in %d modules\n", count, nmod+min(*big, 1))
}
