package modfiles

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
)

// testZip returns a module zip of n files of pseudo-random text
// (compressible, so deflated), and the offset of each file's data.
func testZip(t *testing.T, n int) ([]byte, []int64) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		w, err := zw.Create(fmt.Sprintf("example.com/m@v1.0.0/f%03d.go", (i*7)%n))
		if err != nil {
			t.Fatal(err)
		}
		for range 2000 + r.IntN(20000) {
			fmt.Fprintf(w, "// line %d\n", r.IntN(1000))
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, f := range z.File {
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	return data, offs
}

// TestHashZipParallel: the h1: hash of a zip whose files are hashed on
// several goroutines, from memory or through a reader, is dirhash's; a
// corrupt file gives the error hashing the files in order gives.
func TestHashZipParallel(t *testing.T) {
	data, offs := testZip(t, 40)
	file := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := dirhash.HashZip(file, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	hashes := func(data []byte) (string, error, string, error) {
		a, aerr := HashZipReader(bytes.NewReader(data), int64(len(data)))
		b, berr := HashZipBytes(data)
		return a, aerr, b, berr
	}
	defer func(old uint64) { parallelHashBytes = old }(parallelHashBytes)
	for _, limit := range []uint64{0, 1 << 62} { // parallel, then in order
		parallelHashBytes = limit
		for range 3 { // pooled inflaters reused
			if a, aerr, b, berr := hashes(data); a != want || b != want || aerr != nil || berr != nil {
				t.Fatalf("limit %d: HashZipReader = %q, %v; HashZipBytes = %q, %v; want %q", limit, a, aerr, b, berr, want)
			}
		}
	}
	// Corrupt two files' data: the first of them in sorted order names
	// the error, whichever way the files are hashed.
	bad := bytes.Clone(data)
	for _, i := range []int{5, 30} {
		for j := range 64 {
			bad[offs[i]+100+int64(j)] ^= 0x55
		}
	}
	parallelHashBytes = 1 << 62
	_, seqErr, _, seqMemErr := hashes(bad)
	if seqErr == nil || seqMemErr == nil {
		t.Fatalf("corrupt zip hashed in order: errors %v, %v", seqErr, seqMemErr)
	}
	parallelHashBytes = 0
	for range 5 {
		_, perr, _, pmemErr := hashes(bad)
		if perr == nil || perr.Error() != seqErr.Error() || pmemErr == nil || pmemErr.Error() != seqMemErr.Error() {
			t.Fatalf("corrupt zip hashed in parallel: errors %v, %v; in order %v, %v", perr, pmemErr, seqErr, seqMemErr)
		}
	}
}
