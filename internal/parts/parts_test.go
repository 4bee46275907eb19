package parts

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// split writes a bundle of n random bytes and splits it into parts of size.
func split(t *testing.T, n, size int) (dir string, data []byte, indexPath string) {
	t.Helper()
	dir = t.TempDir()
	data = make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	file := filepath.Join(dir, "b.tar.zst")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := Split(file, int64(size))
	if err != nil {
		t.Fatal(err)
	}
	b, err := idx.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	indexPath = file + IndexSuffix
	if err := os.WriteFile(indexPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(file)
	return dir, data, indexPath
}

func join(t *testing.T, indexPath string) ([]byte, error) {
	t.Helper()
	r, err := Open(indexPath, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestSplitJoin(t *testing.T) {
	for _, tc := range []struct{ n, size, parts int }{
		{10000, 4096, 3}, {8192, 4096, 2}, {100, 4096, 1}, {1 << 20, 1024, 1024},
	} {
		dir, data, index := split(t, tc.n, tc.size)
		got, err := join(t, index)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes in %d-byte parts: joined %d bytes, %v", tc.n, tc.size, len(got), err)
		}
		entries, _ := filepath.Glob(filepath.Join(dir, "b.tar.zst.[0-9]*"))
		if len(entries) != tc.parts {
			t.Errorf("%d bytes in %d-byte parts: %d part files, want %d", tc.n, tc.size, len(entries), tc.parts)
		}
		// cat joins them too: the part names sort in order.
		var cat []byte
		for _, e := range entries {
			b, _ := os.ReadFile(e)
			cat = append(cat, b...)
		}
		if !bytes.Equal(cat, data) {
			t.Errorf("the parts concatenated in name order are not the bundle")
		}
	}
}

func TestMissingAndAlteredParts(t *testing.T) {
	dir, _, index := split(t, 10000, 4096)
	p2 := filepath.Join(dir, "b.tar.zst.002")

	// Altered in place, same size: named at the end of the part.
	orig, _ := os.ReadFile(p2)
	bad := bytes.Clone(orig)
	bad[100] ^= 1
	os.WriteFile(p2, bad, 0o644)
	_, err := join(t, index)
	var pe *PartError
	if !errors.As(err, &pe) || pe.Number != 2 || pe.Of != 3 || !errors.Is(err, ErrAltered) {
		t.Fatalf("altered part 2: %v", err)
	}

	// Truncated: named before any byte is read.
	os.WriteFile(p2, orig[:100], 0o644)
	if _, err := Open(index, nil); !errors.As(err, &pe) || pe.Number != 2 || !errors.Is(err, ErrAltered) {
		t.Fatalf("short part 2: %v", err)
	}

	// Missing: every missing part is named at once.
	os.Remove(p2)
	os.Remove(filepath.Join(dir, "b.tar.zst.003"))
	_, err = Open(index, nil)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "b.tar.zst.002") || !strings.Contains(err.Error(), "b.tar.zst.003") {
		t.Fatalf("missing parts 2 and 3: %v", err)
	}
	os.WriteFile(p2, orig, 0o644)
	os.WriteFile(filepath.Join(dir, "b.tar.zst.003"), []byte("x"), 0o644)
	if _, err := Open(index, nil); !errors.As(err, &pe) || pe.Number != 3 {
		t.Fatalf("a wrong part 3: %v", err)
	}
}

func TestBlame(t *testing.T) {
	dir, _, index := split(t, 10000, 4096)
	p1 := filepath.Join(dir, "b.tar.zst.001")
	b, _ := os.ReadFile(p1)
	b[4000] ^= 0xff
	os.WriteFile(p1, b, 0o644)
	r, err := Open(index, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A consumer that gives up early (as a bundle reader does on a corrupt
	// stream): Blame reads the rest of the part and names it.
	io.ReadFull(r, make([]byte, 10))
	if err := r.Blame(); !errors.Is(err, ErrAltered) || !strings.Contains(err.Error(), "part 1 of 3") {
		t.Fatalf("Blame: %v", err)
	}
	r.Close()

	// An intact part is not blamed.
	b[4000] ^= 0xff
	os.WriteFile(p1, b, 0o644)
	r, _ = Open(index, nil)
	io.ReadFull(r, make([]byte, 10))
	if err := r.Blame(); err != nil {
		t.Fatalf("Blame of an intact part: %v", err)
	}
	r.Close()
}

func TestIndexRules(t *testing.T) {
	_, _, index := split(t, 10000, 4096)
	good, _ := os.ReadFile(index)
	for name, edit := range map[string]func(string) string{
		"traversal in the bundle name": func(s string) string { return strings.ReplaceAll(s, `"b.tar.zst`, `"../b.tar.zst`) },
		"a part renamed":               func(s string) string { return strings.Replace(s, "b.tar.zst.002", "b.tar.zst.009", 1) },
		"sizes that do not add up":     func(s string) string { return strings.Replace(s, `"size": 10000`, `"size": 10001`, 1) },
		"an unknown field":             func(s string) string { return strings.Replace(s, `{`, `{"extra": 1,`, 1) },
		"format version 2":             func(s string) string { return strings.Replace(s, `"formatVersion": 1`, `"formatVersion": 2`, 1) },
	} {
		if _, err := ParseIndex([]byte(edit(string(good)))); !errors.Is(err, ErrBadIndex) {
			t.Errorf("%s: %v, want ErrBadIndex", name, err)
		}
	}
	if _, err := ParseIndex(good); err != nil {
		t.Fatalf("the good index: %v", err)
	}
	// check sees the index bytes first, and its error stops Open.
	refuse := errors.New("bad signature")
	if _, err := Open(index, func([]byte) error { return refuse }); !errors.Is(err, refuse) {
		t.Errorf("Open with a failing check: %v", err)
	}
}

func TestIndexPath(t *testing.T) {
	for in, want := range map[string]string{
		"d/b.tar.zst.parts": "d/b.tar.zst.parts",
		"d/b.tar.zst.001":   "d/b.tar.zst.parts",
		"b.tar.zst.1024":    "b.tar.zst.parts",
		"b.tar.zst":         "",
		"b.tar.zst.01":      "",
		"b.tar.zst.00a":     "",
	} {
		got, ok := IndexPath(in)
		if got != want || ok != (want != "") {
			t.Errorf("IndexPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzParseIndex: an index arrives with the parts, from wherever they were
// carried. Whatever it holds, ParseIndex must not panic, and an index it
// accepts names only plain files beside it, in order, whose sizes are
// positive and add up to the bundle's without overflow.
func FuzzParseIndex(f *testing.F) {
	good := `{"formatVersion":1,"bundle":"b.tar.zst","size":3,"sha256":"` + strings.Repeat("a", 64) +
		`","parts":[{"name":"b.tar.zst.001","size":2,"sha256":"` + strings.Repeat("b", 64) +
		`"},{"name":"b.tar.zst.002","size":1,"sha256":"` + strings.Repeat("c", 64) + `"}]}`
	f.Add([]byte(good))
	f.Add([]byte(strings.Replace(good, `"size":2`, `"size":9223372036854775807`, 1)))
	f.Add([]byte(strings.Replace(good, `b.tar.zst.001`, `../x.001`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data)
		if err != nil {
			if !errors.Is(err, ErrBadIndex) {
				t.Fatalf("error %v is not ErrBadIndex", err)
			}
			return
		}
		if checkName(idx.Bundle) != nil {
			t.Fatalf("accepted bundle name %q", idx.Bundle)
		}
		var total int64
		for i, p := range idx.Parts {
			if checkName(p.Name) != nil || p.Name != partName(idx.Bundle, i+1, len(idx.Parts)) {
				t.Fatalf("accepted part name %q", p.Name)
			}
			if p.Size <= 0 || total+p.Size < total {
				t.Fatalf("accepted part size %d after %d", p.Size, total)
			}
			total += p.Size
		}
		if total != idx.Size {
			t.Fatalf("parts add up to %d, index says %d", total, idx.Size)
		}
	})
}

// TestZeroLengthRead: a Read of nothing is not the end of a part (it used
// to close the part and check its hash mid-stream: "part altered").
func TestZeroLengthRead(t *testing.T) {
	_, data, index := split(t, 10000, 4096)
	r, err := Open(index, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []byte
	buf := make([]byte, 1000)
	for {
		if n, err := r.Read(buf[:0]); n != 0 || err != nil {
			t.Fatalf("Read of nothing after %d bytes: %d, %v", len(got), n, err)
		}
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, not the bundle", len(got))
	}
}
