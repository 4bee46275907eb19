package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
)

// TestTamperSweep flips single bytes all over a small signed bundle, in the
// compressed file and in the uncompressed tar stream (recompressed).
//
// Every flip in the tar stream must be rejected. In the compressed file a
// few flips hit bits of zstd's entropy-table descriptions that do not change
// the decoded output; those are allowed only when the decompressed stream is
// byte-for-byte the original, so no change to any content gets through.
func TestTamperSweep(t *testing.T) {
	k := newTestKey(t)
	s := sampleSource(t)
	b := writeBundle(t, s, k)
	if _, _, err := readBundle(t, b, k); err != nil {
		t.Fatalf("unchanged bundle: %v", err)
	}
	xors := []byte{0x01, 0x20, 0x80, 0xff, 0x02, 0x10, 0x04, 0x40, 0x08}
	stageRoot := t.TempDir()
	read := func(data []byte) error {
		dir, err := os.MkdirTemp(stageRoot, "")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		st, err := bundle.NewDirStage(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = bundle.Read(context.Background(), bytes.NewReader(data), bundle.ReadOptions{Verify: k.verify, Stage: st, Workers: 2})
		return err
	}

	raw := decompress(t, b)
	budget := 600
	if testing.Short() {
		budget = 150
	}

	// Compressed file: evenly spread over every byte.
	flips, noops := 0, 0
	for i := 0; i < len(b); i += max(1, len(b)/budget) {
		x := xors[flips%len(xors)]
		bad := bytes.Clone(b)
		bad[i] ^= x
		flips++
		err := read(bad)
		if err != nil && !errors.Is(err, bundle.ErrInvalid) {
			t.Errorf("compressed byte %d/%d ^ %#x: error %q does not match ErrInvalid", i, len(b), x, err)
		}
		if err == nil {
			if out, derr := decompressErr(bad); derr != nil || !bytes.Equal(out, raw) {
				t.Errorf("compressed byte %d/%d ^ %#x accepted and changes the content", i, len(b), x)
			}
			noops++
		}
	}
	t.Logf("%d flips in the %d-byte compressed file; %d left the decoded stream unchanged", flips, len(b), noops)

	// Uncompressed tar: a spread of positions plus the start, middle and end
	// of every header, member and padding.
	positions := map[int]bool{}
	for i := 0; i < len(raw); i += max(1, len(raw)/(budget/2)) {
		positions[i] = true
	}
	off := 0
	for _, e := range entries(t, s, k) {
		hdr, err := bundle.EncodeTarHeader(e.name, int64(len(e.data)), testCreated)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int{0, 100, 124, 148, 155, 156, 257, 265, 345, len(hdr) - 1} { // name, size, chksum, typeflag, magic, uname, prefix
			positions[off+p] = true
		}
		off += len(hdr)
		if n := len(e.data); n > 0 {
			for _, p := range []int{0, n / 2, n - 1} {
				positions[off+p] = true
			}
			off += n
			if pad := bundle.Padding(int64(n)); pad > 0 {
				positions[off] = true
				positions[off+pad-1] = true
				off += pad
			}
		}
	}
	positions[off] = true        // end-of-archive marker
	positions[len(raw)-1] = true // its last byte
	if off+1024 != len(raw) {
		t.Fatalf("tar layout: members end at %d, stream is %d bytes", off, len(raw))
	}
	n := 0
	for p := range positions {
		xs := []byte{xors[n%len(xors)]}
		if p%512 >= 148 && p%512 < 156 || raw[p] == 0 {
			xs = append(xs, 0x20) // NUL <-> space, which tar parsers often equate
		}
		for _, x := range xs {
			bad := bytes.Clone(raw)
			bad[p] ^= x
			n++
			if err := read(compress(t, bad)); err == nil {
				t.Errorf("uncompressed byte %d/%d ^ %#x (%q -> %q) accepted", p, len(raw), x, raw[p], bad[p])
			} else if !errors.Is(err, bundle.ErrInvalid) {
				t.Errorf("uncompressed byte %d/%d ^ %#x: error %q does not match ErrInvalid", p, len(raw), x, err)
			}
		}
	}
	t.Logf("%d flips at %d positions of the %d-byte tar stream", n, len(positions), len(raw))
}

func decompressErr(b []byte) ([]byte, error) {
	zr, err := bundle.NewDecoder(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}
