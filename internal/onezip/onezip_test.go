package onezip

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
)

// zipOf returns a zip of the named files, written by archive/zip (which
// adds data descriptors) at the given offset (zip.Writer.SetOffset).
func zipOf(t *testing.T, offset int64, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	w.SetOffset(offset)
	for _, name := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("content of " + name + "\n"))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func check(b []byte) error { return Check(bytes.NewReader(b), int64(len(b))) }

func TestCheck(t *testing.T) {
	real := zipOf(t, 0, "m@v1.0.0/go.mod", "m@v1.0.0/real.go")
	decoy := zipOf(t, 0, "m@v1.0.0/go.mod", "m@v1.0.0/decoy.go")
	junk := bytes.Repeat([]byte("JUNK"), 100)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	// The construction from the probe: Go's zip reader reads it as the
	// real zip, which is why it must be refused.
	attack := cat(junk, decoy, real)
	if zr, err := zip.NewReader(bytes.NewReader(attack), int64(len(attack))); err != nil || zr.File[1].Name != "m@v1.0.0/real.go" {
		t.Fatalf("archive/zip no longer reads the concatenation as the last zip (%v); the test needs a new construction", err)
	}

	// A zip written as if it followed the junk: its offsets are
	// consistent, but its first entry is not at offset 0.
	shifted := cat(junk, zipOf(t, int64(len(junk)), "m@v1.0.0/go.mod"))
	// A comment that is itself a zip.
	commented := func() []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		w.Create("m@v1.0.0/go.mod")
		w.SetComment(string(decoy))
		w.Close()
		return buf.Bytes()
	}()
	// Data between two entries: the decoy spliced in after the first
	// entry, with the offsets of the second entry and of the central
	// directory moved past it, so that every offset is consistent.
	spliced := func() []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for _, name := range []string{"m@v1.0.0/a.go", "m@v1.0.0/b.go"} {
			data := []byte("package x\n")
			f, err := w.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(data),
				CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data))})
			if err != nil {
				t.Fatal(err)
			}
			f.Write(data)
		}
		w.Close()
		b := buf.Bytes()
		le := binary.LittleEndian
		first := 30 + len("m@v1.0.0/a.go") + len("package x\n")
		eocd := len(b) - 22
		cdOff := int(le.Uint32(b[eocd+16:]))
		second := cdOff + 46 + len("m@v1.0.0/a.go") // the second central entry
		le.PutUint32(b[second+42:], le.Uint32(b[second+42:])+uint32(len(decoy)))
		le.PutUint32(b[eocd+16:], uint32(cdOff+len(decoy)))
		out := cat(b[:first], decoy, b[first:])
		if zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out))); err != nil || len(zr.File) != 2 {
			t.Fatalf("spliced zip does not read: %v", err)
		}
		return out
	}()

	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"real", real, true},
		{"empty zip", zipOf(t, 0), true},
		{"junk+decoy+real", attack, false},
		{"decoy+real", cat(decoy, real), false},
		{"junk+real", cat(junk, real), false},
		{"trailing bytes", cat(real, []byte("X")), false},
		{"trailing zip", cat(real, decoy), false},
		{"shifted offsets", shifted, false},
		{"comment", commented, false},
		{"spliced", spliced, false},
		{"empty file", nil, false},
		{"truncated", real[:len(real)-1], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.data)
			if tc.ok && err != nil {
				t.Fatalf("valid zip refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrNotOneZip) {
				t.Fatalf("err = %v, want ErrNotOneZip", err)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte{})
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	w.Create("a")
	w.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		check(b) // must not panic or allocate without bound
	})
}

// TestCheckZip64: archive/zip writes zip64 end records for more than
// 65535 entries; such a zip is one zip, and junk in front of it is not.
func TestCheckZip64(t *testing.T) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := range 70000 {
		if _, err := w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("m@v1.0.0/%d", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	z := buf.Bytes()
	if err := check(z); err != nil {
		t.Fatalf("zip64 archive refused: %v", err)
	}
	if err := check(append([]byte("JUNK"), z...)); !errors.Is(err, ErrNotOneZip) {
		t.Fatalf("junk + zip64: %v", err)
	}
}
