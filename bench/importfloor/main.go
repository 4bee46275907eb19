// Command importfloor measures the floor of `modferry import` for a
// bundle: the CPU time of the work no import can skip, each part on one
// goroutine, with the bundle already in memory:
//
//	importfloor BUNDLE.tar.zst
//
// prints one line of seconds of CPU (user+system, getrusage):
//
//	zstd SECONDS sha SECONDS h1 SECONDS cpus N floor SECONDS
//
// zstd: decompressing the bundle's zstd frame; sha: the SHA-256 of every
// member; h1: inflating every file of every module zip and its SHA-256
// (the h1: hash); floor: their sum divided by the CPUs (GOMAXPROCS). Each
// part runs ROUNDS times (default 3) and the fastest counts.
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: importfloor BUNDLE.tar.zst")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "importfloor:", err)
		os.Exit(1)
	}
}

func run(file string) error {
	compressed, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	rounds := 3
	if s := os.Getenv("ROUNDS"); s != "" {
		if rounds, err = strconv.Atoi(s); err != nil {
			return err
		}
	}
	// Untimed: the members, in memory.
	var members, zips [][]byte
	zr, err := zstd.NewReader(bytes.NewReader(compressed), zstd.WithDecoderMaxWindow(32<<20), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		members = append(members, b)
		if strings.HasPrefix(hdr.Name, "download/") && strings.HasSuffix(hdr.Name, ".zip") {
			zips = append(zips, b)
		}
	}
	zr.Close()

	zstdCPU, err := fastest(rounds, func() error {
		d, err := zstd.NewReader(bytes.NewReader(compressed), zstd.WithDecoderMaxWindow(32<<20), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer d.Close()
		_, err = io.Copy(io.Discard, d)
		return err
	})
	if err != nil {
		return err
	}
	shaCPU, _ := fastest(rounds, func() error {
		for _, m := range members {
			sha256.Sum256(m)
		}
		return nil
	})
	h1CPU, err := fastest(rounds, func() error {
		for _, z := range zips {
			if err := h1(z); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	cpus := runtime.GOMAXPROCS(0)
	fmt.Printf("zstd %.3f sha %.3f h1 %.3f cpus %d floor %.3f\n",
		zstdCPU.Seconds(), shaCPU.Seconds(), h1CPU.Seconds(), cpus,
		(zstdCPU+shaCPU+h1CPU).Seconds()/float64(cpus))
	return nil
}

// h1 does the work of the h1: hash of a module zip: inflate and SHA-256
// every file, then hash the sorted summary.
func h1(data []byte) error {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	z.RegisterDecompressor(zip.Deflate, inflate)
	lines := make([]string, 0, len(z.File))
	buf := make([]byte, 64<<10)
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.CopyBuffer(h, rc, buf)
		rc.Close()
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%x  %s\n", h.Sum(nil), f.Name))
	}
	sort.Strings(lines)
	sha256.Sum256([]byte(strings.Join(lines, "")))
	return nil
}

// inflate is a zip.Decompressor that reuses one flate reader and its
// input buffer, so that the floor holds no allocation.
func inflate(r io.Reader) io.ReadCloser {
	if inflater == nil {
		inBuf = bufio.NewReaderSize(r, 64<<10)
		inflater = flate.NewReader(inBuf)
	} else {
		inBuf.Reset(r)
		_ = inflater.(flate.Resetter).Reset(inBuf, nil)
	}
	return io.NopCloser(inflater)
}

var (
	inflater io.ReadCloser
	inBuf    *bufio.Reader
)

// fastest runs f rounds times and returns the least process CPU time one
// run took.
func fastest(rounds int, f func() error) (time.Duration, error) {
	best := time.Duration(-1)
	for range rounds {
		runtime.GC()
		c0 := cpuTime()
		if err := f(); err != nil {
			return 0, err
		}
		if c := cpuTime() - c0; best < 0 || c < best {
			best = c
		}
	}
	return best, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
