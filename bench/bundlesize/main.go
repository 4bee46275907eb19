// Command bundlesize re-encodes the members of a modferry bundle with
// other member orders and zstd settings, to see what each gives:
//
//	bundlesize BUNDLE.tar.zst REFERENCE_SIZE
//
// prints, for each variant, the size of the tar.zst, its ratio to
// REFERENCE_SIZE (the manual tar.gz) and the CPU seconds of encoding. The
// tar headers are the bundle's own; the encoder is the one bundles are
// written with (klauspost/compress zstd, 32 MiB window, content checksum,
// GOMAXPROCS goroutines without concurrent blocks) unless the variant
// says otherwise. Only orders and settings the existing reader accepts are
// "format-compatible"; the others are shown for reference.
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
)

type member struct {
	hdr  *tar.Header
	data []byte
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bundlesize BUNDLE.tar.zst REFERENCE_SIZE")
		os.Exit(2)
	}
	ref, err := strconv.ParseFloat(os.Args[2], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundlesize:", err)
		os.Exit(2)
	}
	ms, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundlesize:", err)
		os.Exit(1)
	}

	// The members by kind, each in the bundle's order.
	var head, sboms, mods, infos, zips, sumdb, rest []member
	for i, m := range ms {
		n := m.hdr.Name
		switch {
		case i < 2 && strings.HasPrefix(n, "MANIFEST.json"):
			head = append(head, m)
		case strings.HasPrefix(n, "sbom."):
			sboms = append(sboms, m)
		case strings.HasPrefix(n, "download/") && strings.HasSuffix(n, ".mod"):
			mods = append(mods, m)
		case strings.HasPrefix(n, "download/") && strings.HasSuffix(n, ".info"):
			infos = append(infos, m)
		case strings.HasPrefix(n, "download/") && strings.HasSuffix(n, ".zip"):
			zips = append(zips, m)
		case strings.HasPrefix(n, "sumdb/"):
			sumdb = append(sumdb, m)
		default:
			rest = append(rest, m)
		}
	}
	cat := func(parts ...[]member) []member { return slices.Concat(parts...) }
	grouped := cat(head, sboms, mods, infos, zips, sumdb, rest)
	textFirst := cat(head, sboms, mods, infos, sumdb, rest, zips)
	bySize := slices.Clone(zips)
	slices.SortStableFunc(bySize, func(a, b member) int { return len(a.data) - len(b.data) })
	zipsBySize := cat(head, sboms, mods, infos, sumdb, rest, bySize)

	// What the manual tar.gz holds too: the module files alone, without
	// the checksum-database proofs (SHA-256 hashes, which no compressor
	// shrinks) and the SBOMs, which the manual routine does not carry.
	var noProofs, modulesOnly []member
	for _, m := range ms {
		if !strings.HasPrefix(m.hdr.Name, "sumdb/") {
			noProofs = append(noProofs, m)
		}
		if strings.HasPrefix(m.hdr.Name, "download/") {
			modulesOnly = append(modulesOnly, m)
		}
	}

	better := zstd.WithEncoderLevel(zstd.SpeedBetterCompression)
	best := zstd.WithEncoderLevel(zstd.SpeedBestCompression)
	fmt.Printf("%-62s %11s %7s %7s\n", "variant", "bytes", "ratio", "CPU s")
	for _, v := range []struct {
		name string
		ms   []member
		opts []zstd.EOption
	}{
		{"default (better), bundle order", ms, []zstd.EOption{better}},
		{"default, .mod then .info then zips by module", grouped, []zstd.EOption{better}},
		{"default, text first (sbom, .mod, .info, sumdb), zips last", textFirst, []zstd.EOption{better}},
		{"default, text first, zips smallest to largest", zipsBySize, []zstd.EOption{better}},
		{"default, all literals entropy-coded", ms, []zstd.EOption{better, zstd.WithAllLitEntropyCompression(true)}},
		{"best, bundle order", ms, []zstd.EOption{best}},
		{"best, .mod then .info then zips by module", grouped, []zstd.EOption{best}},
		{"fast (default speed), bundle order", ms, []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedDefault)}},
		{"default, without the checksum-database proofs", noProofs, []zstd.EOption{better}},
		{"default, module files only (what the manual tar.gz holds)", modulesOnly, []zstd.EOption{better}},
	} {
		n, cpu, err := encode(v.ms, v.opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bundlesize:", err)
			os.Exit(1)
		}
		fmt.Printf("%-62s %11d %7.4f %7.2f\n", v.name, n, float64(n)/ref, cpu.Seconds())
	}
	// What the zstd stage does for each kind of member, each kind alone.
	fmt.Println()
	for _, k := range []struct {
		name string
		ms   []member
	}{{"zips", zips}, {"everything but zips", cat(head, sboms, mods, infos, sumdb, rest)}} {
		raw := 0
		for _, m := range k.ms {
			raw += len(m.data)
		}
		n, _, err := encode(k.ms, better)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bundlesize:", err)
			os.Exit(1)
		}
		fmt.Printf("%-24s %11d bytes -> %11d with the default (%.1f%% saved)\n", k.name, raw, n, 100*(1-float64(n)/float64(raw)))
	}
}

func load(file string) ([]member, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := zstd.NewReader(f, zstd.WithDecoderMaxWindow(32<<20))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	tr := tar.NewReader(d)
	var ms []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ms, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{h, b})
	}
}

// encode writes ms as a tar.zst the way bundles are written and returns
// its size and the process CPU time it took.
func encode(ms []member, opts ...zstd.EOption) (int, time.Duration, error) {
	var out bytes.Buffer
	o := append([]zstd.EOption{zstd.WithWindowSize(32 << 20), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithConcurrentBlocks(false), zstd.WithEncoderCRC(true)}, opts...)
	runtime.GC()
	c0 := cpuTime()
	zw, err := zstd.NewWriter(&out, o...)
	if err != nil {
		return 0, 0, err
	}
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		if err := tw.WriteHeader(m.hdr); err != nil {
			return 0, 0, err
		}
		if _, err := tw.Write(m.data); err != nil {
			return 0, 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return out.Len(), cpuTime() - c0, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
