package modfiles

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// HashZip returns the go.sum hash ("h1:...") of the module zip at filename:
// dirhash.HashZip with dirhash.Hash1, computed by HashZipReader.
func HashZip(filename string) (string, error) {
	f, err := os.Open(filename)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return HashZipReader(f, fi.Size())
}

// HashZipReader returns the h1: hash of the module zip in r (size bytes):
// dirhash.Hash1 over the zip's files. Hashing means inflating every file,
// which dominates importing a bundle, so it uses a faster DEFLATE decoder
// (klauspost/compress/flate), reuses its inflaters, their input buffers and
// its copy buffers across files and zips instead of allocating them for
// every file, reads r in large blocks, and hashes the files of a large
// zip on several goroutines (hashFiles).
func HashZipReader(r io.ReaderAt, size int64) (string, error) {
	return hashZip(r, size, nil)
}

// HashZipBytes returns the h1: hash of the module zip data, as
// HashZipReader does; the inflaters read the compressed files straight
// from data, without copying them through a buffer.
func HashZipBytes(data []byte) (string, error) {
	return hashZip(bytes.NewReader(data), int64(len(data)), data)
}

// hashZip is HashZipReader; data, if not nil, is the zip that r reads.
func hashZip(r io.ReaderAt, size int64, data []byte) (string, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return "", err
	}
	if data == nil {
		z.RegisterDecompressor(zip.Deflate, newInflater)
	} else {
		z.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser {
			// r is the file's compressed bytes, an io.SectionReader
			// of the zip.
			if sr, ok := r.(*io.SectionReader); ok {
				if _, off, n := sr.Outer(); off >= 0 && n >= 0 && off <= int64(len(data)) && n <= int64(len(data))-off {
					return newMemInflater(data[off : off+n])
				}
			}
			return newInflater(r)
		})
	}
	files := make([]string, 0, len(z.File))
	byName := make(map[string]*zip.File, len(z.File))
	for _, f := range z.File {
		files = append(files, f.Name)
		byName[f.Name] = f
	}
	// What dirhash.Hash1 does, with the files hashed by hashFiles.
	slices.Sort(files)
	for _, name := range files {
		if strings.Contains(name, "\n") {
			return "", errors.New("dirhash: filenames with newlines are not supported")
		}
	}
	sums, err := hashFiles(files, byName)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for i, name := range files {
		fmt.Fprintf(h, "%x  %s\n", sums[i], name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// parallelHashBytes is the uncompressed size from which hashFiles hashes
// a zip's files on several goroutines: one large zip then keeps every
// core busy (at the end of an import, when it is the last one left). A
// variable for tests.
var parallelHashBytes uint64 = 1 << 20

// hashFiles returns the SHA-256 of each of the files (sorted names) of a
// zip, reading each to its end, so that the zip reader checks its CRC-32
// and size. The error is the one the first failing file in files gives,
// as hashing them one after the other would.
func hashFiles(files []string, byName map[string]*zip.File) ([][sha256.Size]byte, error) {
	sums := make([][sha256.Size]byte, len(files))
	var total uint64
	for _, name := range files {
		if f := byName[name]; f != nil {
			total += f.UncompressedSize64
		}
	}
	workers := 1
	if total >= parallelHashBytes {
		workers = min(runtime.GOMAXPROCS(0), len(files))
	}
	if workers <= 1 {
		for i, name := range files {
			if err := hashFile(byName[name], name, &sums[i]); err != nil {
				return nil, err
			}
		}
		return sums, nil
	}
	// Each goroutine takes the next file; after a failure, files after
	// the first one that failed are skipped, those before it are still
	// hashed, so that the error returned is the first in order.
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstBad = len(files)
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				mu.Lock()
				stop := i >= firstBad
				mu.Unlock()
				if stop {
					return
				}
				if err := hashFile(byName[files[i]], files[i], &sums[i]); err != nil {
					mu.Lock()
					if i < firstBad {
						firstBad, firstErr = i, err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return sums, nil
}

// hashFile sets sum to the SHA-256 of the zip file f (named name).
func hashFile(f *zip.File, name string, sum *[sha256.Size]byte) error {
	if f == nil {
		return fmt.Errorf("file %q not found in zip", name)
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	buf := copyBufs.Get().(*[]byte)
	h := sha256.New()
	_, err = io.CopyBuffer(onlyWriter{h}, rc, *buf)
	copyBufs.Put(buf)
	rc.Close()
	if err != nil {
		return err
	}
	h.Sum(sum[:0])
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// onlyWriter hides any ReadFrom of w, so that io.CopyBuffer uses the
// buffer it is given.
type onlyWriter struct{ io.Writer }

// inflater is a pooled deflate reader with its own input buffer: the zip
// reader hands it an io.SectionReader, which flate would otherwise wrap
// in a fresh 4 KiB bufio.Reader (and, for a file, a 4 KiB pread per fill).
// For a zip in memory it reads the compressed bytes directly (mem).
type inflater struct {
	fr  io.ReadCloser // a flate reader; also a flate.Resetter
	br  *bufio.Reader
	mem bytes.Reader
	out bool // handed out: Close returns it to the pool once
}

const inflaterBuffer = 64 << 10

var inflaters sync.Pool

// newInflater is the zip.Decompressor for Deflate.
func newInflater(r io.Reader) io.ReadCloser {
	in := getInflater()
	in.br.Reset(r)
	in.reset(in.br)
	return in
}

// newMemInflater is newInflater for compressed bytes in memory.
func newMemInflater(compressed []byte) io.ReadCloser {
	in := getInflater()
	in.mem.Reset(compressed)
	in.reset(&in.mem)
	return in
}

func getInflater() *inflater {
	in, _ := inflaters.Get().(*inflater)
	if in == nil {
		in = &inflater{br: bufio.NewReaderSize(nil, inflaterBuffer)}
	}
	in.out = true
	return in
}

// reset points the flate reader at src (an io.ByteReader, which flate
// reads without buffering it again).
func (in *inflater) reset(src io.Reader) {
	if in.fr != nil {
		if err := in.fr.(flate.Resetter).Reset(src, nil); err == nil {
			return
		}
	}
	in.fr = flate.NewReader(src)
}

func (in *inflater) Read(p []byte) (int, error) { return in.fr.Read(p) }

func (in *inflater) Close() error {
	if !in.out {
		return nil
	}
	in.out = false
	err := in.fr.Close()
	in.br.Reset(nil)
	in.mem.Reset(nil)
	inflaters.Put(in)
	return err
}

// HashMod returns the go.sum "/go.mod" hash ("h1:...") of a go.mod file's
// content: dirhash.Hash1 over the single file "go.mod".
func HashMod(gomod []byte) string {
	sum := sha256.Sum256(gomod)
	return HashModSHA256(hex.EncodeToString(sum[:]))
}

// HashModSHA256 returns the go.sum "/go.mod" hash of a go.mod file given
// its hex SHA-256, or "" if hexSum is not hex: dirhash.Hash1 over the one
// file "go.mod".
func HashModSHA256(hexSum string) string {
	if _, err := hex.DecodeString(hexSum); err != nil {
		return ""
	}
	return h1Summary(fmt.Sprintf("%s  go.mod\n", hexSum))
}

// h1Summary returns "h1:" and the base64 SHA-256 of a dirhash.Hash1 summary.
func h1Summary(summary string) string {
	sum := sha256.Sum256([]byte(summary))
	return "h1:" + base64.StdEncoding.EncodeToString(sum[:])
}
