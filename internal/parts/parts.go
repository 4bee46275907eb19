// Package parts splits a bundle into parts of at most a given size, for
// transfer media with size limits (optical discs, portals with upload
// caps), and joins them back as one stream, naming any part that is
// missing or altered.
//
// # Files
//
// A bundle B.tar.zst split into n parts becomes
//
//	B.tar.zst.001 … B.tar.zst.NNN   the bundle's bytes, in order
//	B.tar.zst.parts                 the index (JSON, below)
//	B.tar.zst.parts.minisig         its signatures, as a bundle's manifest
//	B.tar.zst.parts.asc             has them (either may be absent)
//
// Part numbers have at least three digits (more only past 999 parts).
// `cat B.tar.zst.0* > B.tar.zst` joins them by hand; the result is the
// bundle exactly.
//
// The index names the whole bundle (size and SHA-256) and every part (name,
// size and SHA-256). Its signatures let the isolated side trust the part
// hashes before it reads a byte of the bundle, so that a damaged disc is
// named as such ("part 3 of 5 … altered") rather than reported as a
// corrupt bundle; the bundle inside is still verified as a whole, with its
// own manifest signature and hashes.
package parts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/modferry/modferry/internal/safefile"
)

// IndexSuffix is appended to the bundle's file name to name the index.
const IndexSuffix = ".parts"

// maxIndexSize bounds the index file, and maxParts the parts.
const (
	maxIndexSize = 4 << 20
	maxParts     = 10000
)

var (
	// ErrMissing reports a part that is not there.
	ErrMissing = errors.New("part is missing")
	// ErrAltered reports a part whose size or SHA-256 is not the index's.
	ErrAltered = errors.New("part is altered")
	// ErrBadIndex reports an index that does not parse or breaks the rules.
	ErrBadIndex = errors.New("bad parts index")
)

// Index describes a split bundle.
type Index struct {
	FormatVersion int    `json:"formatVersion"` // 1
	Bundle        string `json:"bundle"`        // file name of the whole bundle
	Size          int64  `json:"size"`
	SHA256        string `json:"sha256"`
	Parts         []Part `json:"parts"`
}

// Part is one part file of a split bundle.
type Part struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// PartError names the part at fault.
type PartError struct {
	Name   string // file name
	Number int    // 1-based
	Of     int
	Err    error // ErrMissing or ErrAltered, wrapped with detail
}

func (e *PartError) Error() string {
	return fmt.Sprintf("part %d of %d (%s): %v", e.Number, e.Of, e.Name, e.Err)
}

func (e *PartError) Unwrap() error { return e.Err }

// partName returns the file name of part i (1-based) of n.
func partName(bundle string, i, n int) string {
	width := max(3, len(fmt.Sprint(n)))
	return fmt.Sprintf("%s.%0*d", bundle, width, i)
}

// Split cuts the bundle file into parts of at most size bytes beside it
// and returns their index (not yet written; see WriteIndex). Each part is
// written through a temporary file, synced and renamed. The bundle file is
// left in place.
func Split(file string, size int64) (*Index, error) {
	if size < 1<<10 {
		return nil, fmt.Errorf("part size %d: must be at least 1 KiB", size)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := int((fi.Size() + size - 1) / size)
	if n == 0 {
		return nil, fmt.Errorf("%s is empty", file)
	}
	if n > maxParts {
		return nil, fmt.Errorf("%s would make %d parts of %d bytes; the limit is %d parts", file, n, size, maxParts)
	}
	base := filepath.Base(file)
	idx := &Index{FormatVersion: 1, Bundle: base, Size: fi.Size()}
	whole := sha256.New()
	for i := 1; i <= n; i++ {
		name := partName(base, i, n)
		ph := sha256.New()
		part := io.TeeReader(io.LimitReader(f, size), io.MultiWriter(ph, whole))
		written, err := safefile.Write(filepath.Join(filepath.Dir(file), name), part, 0o644)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		idx.Parts = append(idx.Parts, Part{Name: name, Size: written, SHA256: hex.EncodeToString(ph.Sum(nil))})
	}
	idx.SHA256 = hex.EncodeToString(whole.Sum(nil))
	return idx, nil
}

// Marshal returns the index as written to its file.
func (idx *Index) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseIndex parses and checks an index.
func ParseIndex(data []byte) (*Index, error) {
	var idx Index
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadIndex, err)
	}
	if idx.FormatVersion != 1 {
		return nil, fmt.Errorf("%w: format version %d, want 1", ErrBadIndex, idx.FormatVersion)
	}
	if len(idx.Parts) == 0 || len(idx.Parts) > maxParts {
		return nil, fmt.Errorf("%w: %d parts", ErrBadIndex, len(idx.Parts))
	}
	if err := checkName(idx.Bundle); err != nil {
		return nil, fmt.Errorf("%w: bundle name: %v", ErrBadIndex, err)
	}
	var total int64
	for i, p := range idx.Parts {
		if want := partName(idx.Bundle, i+1, len(idx.Parts)); p.Name != want {
			return nil, fmt.Errorf("%w: part %d is named %q, want %q", ErrBadIndex, i+1, p.Name, want)
		}
		if p.Size <= 0 || p.Size > math.MaxInt64-total || len(p.SHA256) != 64 {
			return nil, fmt.Errorf("%w: part %s: bad size or hash", ErrBadIndex, p.Name)
		}
		total += p.Size
	}
	if total != idx.Size || len(idx.SHA256) != 64 {
		return nil, fmt.Errorf("%w: the parts add up to %d bytes, the bundle is %d", ErrBadIndex, total, idx.Size)
	}
	return &idx, nil
}

// checkName allows a plain file name only: the index names files beside
// it, never elsewhere.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%q is not a plain file name", name)
	}
	return nil
}

// IndexPath returns the index of a split bundle given the index itself or
// any of its parts (NAME.NNN), and false for any other name.
func IndexPath(arg string) (string, bool) {
	if strings.HasSuffix(arg, IndexSuffix) {
		return arg, true
	}
	dot := strings.LastIndexByte(arg, '.')
	if dot < 0 || len(arg)-dot-1 < 3 {
		return "", false
	}
	for _, c := range arg[dot+1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return arg[:dot] + IndexSuffix, true
}

// Open reads the index at indexPath, passes its bytes to check (which
// verifies its signatures; nil checks none), and checks that every part is
// there with the right size. The returned reader streams the parts in
// order as one bundle, checking each part's SHA-256 at its end; a part
// that does not match fails the read with a *PartError.
func Open(indexPath string, check func(index []byte) error) (*Reader, error) {
	f, err := os.Open(indexPath)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	if len(data) > maxIndexSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadIndex, indexPath, maxIndexSize)
	}
	if check != nil {
		if err := check(data); err != nil {
			return nil, fmt.Errorf("%s: %w", indexPath, err)
		}
	}
	idx, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", indexPath, err)
	}
	r := &Reader{Index: idx, dir: filepath.Dir(indexPath), whole: sha256.New()}
	var missing []error
	for i, p := range idx.Parts {
		fi, err := os.Stat(filepath.Join(r.dir, p.Name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, r.partErr(i, ErrMissing))
		case err != nil:
			return nil, err
		case fi.Size() != p.Size:
			missing = append(missing, r.partErr(i, fmt.Errorf("%w: %d bytes, the index says %d", ErrAltered, fi.Size(), p.Size)))
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	return r, nil
}

// Reader streams the parts of a split bundle as one.
type Reader struct {
	Index *Index
	dir   string
	i     int // current part, 0-based
	cur   *os.File
	h     hash.Hash
	n     int64
	whole hash.Hash
}

func (r *Reader) partErr(i int, err error) *PartError {
	return &PartError{Name: r.Index.Parts[i].Name, Number: i + 1, Of: len(r.Index.Parts), Err: err}
}

// Read reads the next bytes of the bundle.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // not the end of a part: nothing was asked for
	}
	for {
		if r.i >= len(r.Index.Parts) {
			if got := hex.EncodeToString(r.whole.Sum(nil)); got != r.Index.SHA256 {
				return 0, fmt.Errorf("%w: the joined parts have SHA-256 %s, the index says %s", ErrAltered, got, r.Index.SHA256)
			}
			return 0, io.EOF
		}
		if r.cur == nil {
			f, err := os.Open(filepath.Join(r.dir, r.Index.Parts[r.i].Name))
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return 0, r.partErr(r.i, ErrMissing)
				}
				return 0, err
			}
			r.cur, r.h, r.n = f, sha256.New(), 0
		}
		part := r.Index.Parts[r.i]
		// Never read past the size the index gives: a part that grew is
		// caught by its hash, not by reading into the next one.
		want := min(int64(len(p)), part.Size-r.n)
		if want > 0 {
			n, err := r.cur.Read(p[:want])
			r.h.Write(p[:n])
			r.whole.Write(p[:n])
			r.n += int64(n)
			if n > 0 {
				return n, nil
			}
			if err != nil && err != io.EOF {
				return 0, err
			}
			if err == io.EOF {
				return 0, r.partErr(r.i, fmt.Errorf("%w: it ends after %d bytes, the index says %d", ErrAltered, r.n, part.Size))
			}
			continue
		}
		r.cur.Close()
		r.cur = nil
		if got := hex.EncodeToString(r.h.Sum(nil)); got != part.SHA256 {
			return 0, r.partErr(r.i, fmt.Errorf("%w: SHA-256 %s, the index says %s", ErrAltered, got, part.SHA256))
		}
		r.i++
	}
}

// Close closes the part being read.
func (r *Reader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}

// Blame reads the rest of the current part to tell whether it matches its
// hash, after a reader of the stream failed in it: it returns the part's
// *PartError if the part is altered, nil otherwise. So a damaged part is
// named as such rather than reported as a corrupt bundle.
func (r *Reader) Blame() error {
	if r.cur == nil || r.i >= len(r.Index.Parts) {
		return nil
	}
	part := r.Index.Parts[r.i]
	n, err := io.Copy(r.h, io.LimitReader(r.cur, part.Size-r.n))
	if err != nil {
		return err
	}
	r.n += n
	if got := hex.EncodeToString(r.h.Sum(nil)); r.n != part.Size || got != part.SHA256 {
		return r.partErr(r.i, fmt.Errorf("%w: SHA-256 %s, the index says %s", ErrAltered, got, part.SHA256))
	}
	return nil
}
