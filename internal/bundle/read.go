package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/onezip"
)

// ReadOptions configure Read. The zero value rejects every bundle: set
// Verify, or AllowUnsigned.
type ReadOptions struct {
	// Verify checks the signatures of the manifest bytes (at least one is
	// present). It is called before any member after the signatures is
	// accepted. Nil is allowed only with AllowUnsigned, and then signatures
	// present are not checked. The manifest bytes are the reader's own
	// and never change afterwards: Verify may keep them.
	Verify func(manifest []byte, sigs Signatures) error
	// AllowUnsigned accepts a bundle without a signature member.
	AllowUnsigned bool
	// Stage receives member contents. Nil stages into a temporary directory
	// that Read removes before returning (enough for a verify-only pass).
	Stage Stage
	// Workers bounds the module checks running beside the stream; 0 means
	// GOMAXPROCS.
	Workers int
	// CheckManifest, if set, runs once the manifest is parsed and its
	// signature accepted, before any other member is read; its error
	// stops the read as it is (a receiver's limits: size, free space).
	CheckManifest func(*Manifest) error
}

// Read reads, checks and stages the bundle in r in one streaming pass, and
// returns its manifest. See the package documentation for the checks.
// A non-nil error wraps one of the Err* values and, for a problem with a
// member, is a *MemberError naming it.
func Read(ctx context.Context, r io.Reader, opts ReadOptions) (*Manifest, error) {
	if opts.Verify == nil && !opts.AllowUnsigned {
		return nil, errors.New("bundle: ReadOptions.Verify is nil and AllowUnsigned is false")
	}
	if opts.Stage == nil {
		dir, err := os.MkdirTemp("", "modferry-verify-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		ds, err := NewDirStage(dir)
		if err != nil {
			return nil, err
		}
		defer ds.Close()
		opts.Stage = ds
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}

	head, err := readFrameHeader(r)
	if errors.Is(err, ErrNonCanonical) {
		// A header modferry never writes: most often a bundle
		// decompressed and compressed again on the way (by a transfer
		// tool, or tar --zstd), rather than tampering.
		return nil, fmt.Errorf("%w (if the bundle was decompressed and compressed again on the way, carry the original file unchanged)", err)
	}
	if err != nil {
		return nil, err
	}
	fe := &frameEnd{r: r, checksum: head[4]&0x04 != 0}
	zr, err := newDecoder(io.MultiReader(bytes.NewReader(head), fe))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	m, err := readTar(ctx, zr, opts)
	// The decoder's goroutine reads fe: Close waits for it to stop
	// before fe is looked at and read further here.
	zr.Close()
	if fe.after {
		return nil, errAfterFrame
	}
	if err != nil {
		return nil, err
	}
	if err := fe.drain(); err != nil {
		return nil, err
	}
	return m, nil
}

// readTar reads the uncompressed tar stream; opts are complete.
func readTar(ctx context.Context, r io.Reader, opts ReadOptions) (*Manifest, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(sctx)
	g.SetLimit(opts.Workers)
	rec := &recorder{r: r}
	rd := &reader{opts: opts, rec: rec, tr: tar.NewReader(rec), g: g, gctx: gctx,
		zipMemory: zipMemory, memory: semaphore.NewWeighted(zipMemory)}
	m, streamErr := rd.stream()
	if streamErr != nil {
		cancel()
	}
	checkErr := g.Wait()
	if checkErr != nil && (streamErr == nil || errors.Is(streamErr, context.Canceled) && ctx.Err() == nil) {
		return nil, checkErr
	}
	if streamErr != nil {
		return nil, streamErr
	}
	// After the per-member checks, so that a bad entry is named first.
	if err := rd.checkVulnDB(); err != nil {
		return nil, err
	}
	return m, nil
}

type reader struct {
	opts ReadOptions
	rec  *recorder
	tr   *tar.Reader
	g    *errgroup.Group
	gctx context.Context
	// memory bounds the members held in memory (inMemory) to zipMemory
	// bytes.
	zipMemory int64
	memory    *semaphore.Weighted

	m        *Manifest
	files    map[string]File
	modules  map[module.Version]Module
	seen     map[string]bool
	vulndb   []string // names of the vulnerability database's files, inside vulndb/
	prevSize int64    // size of the previous member, for its padding
}

func (rd *reader) stream() (*Manifest, error) {
	// 1. MANIFEST.json.
	hdr, raw, err := rd.next()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the bundle is empty", ErrManifestFirst)
	}
	if err != nil {
		return nil, err
	}
	if hdr.Name != ManifestName {
		return nil, memberErr(hdr.Name, ErrManifestFirst)
	}
	data, err := rd.readSmall(hdr, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	manifestRaw, manifestSize := raw, hdr.Size

	// 2. The signatures, each optional, in this order, verified before
	// anything else is accepted.
	type sigMember struct {
		name string
		raw  []byte
		size int64
	}
	var sigs Signatures
	var sigMembers []sigMember
	hdr, raw, err = rd.next()
	for _, s := range []struct {
		name string
		dst  *[]byte
	}{{SignatureName, &sigs.Minisign}, {OpenPGPSignatureName, &sigs.OpenPGP}} {
		if err != nil || hdr.Name != s.name {
			continue
		}
		sig, rerr := rd.readSmall(hdr, MaxSignatureSize)
		if rerr != nil {
			return nil, rerr
		}
		*s.dst = sig
		sigMembers = append(sigMembers, sigMember{s.name, raw, hdr.Size})
		hdr, raw, err = rd.next()
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch {
	case sigs.Empty() && !rd.opts.AllowUnsigned:
		return nil, fmt.Errorf("%w: neither %s nor %s is there", ErrUnsigned, SignatureName, OpenPGPSignatureName)
	case !sigs.Empty() && rd.opts.Verify != nil:
		if verr := rd.opts.Verify(data, sigs); verr != nil {
			if len(sigMembers) > 1 {
				// Verify's error names the member at fault, if one is.
				return nil, fmt.Errorf("%w: %w", ErrBadSignature, verr)
			}
			return nil, memberErr(sigMembers[0].name, fmt.Errorf("%w: %w", ErrBadSignature, verr))
		}
	}
	eof := err == io.EOF

	m, err := ParseManifest(data)
	if err != nil {
		return nil, memberErr(ManifestName, err)
	}
	if rd.opts.CheckManifest != nil {
		if err := rd.opts.CheckManifest(m); err != nil {
			return nil, err
		}
	}
	rd.m = m
	// Now that Created is known, the first headers can be checked.
	rd.prevSize = 0
	if err := rd.checkRaw(manifestRaw, ManifestName, manifestSize); err != nil {
		return nil, err
	}
	for _, sm := range sigMembers {
		if err := rd.checkRaw(sm.raw, sm.name, sm.size); err != nil {
			return nil, err
		}
	}
	rd.files = make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		rd.files[f.Path] = f
	}
	rd.modules = make(map[module.Version]Module, len(m.Modules))
	for _, mod := range m.Modules {
		rd.modules[mod.ModuleVersion()] = mod
	}
	rd.seen = make(map[string]bool, len(m.Files))

	// 3. Every other member.
	for !eof {
		if err := rd.gctx.Err(); err != nil {
			return nil, err
		}
		if err := rd.member(hdr, raw); err != nil {
			return nil, err
		}
		hdr, raw, err = rd.next()
		if err != nil && err != io.EOF {
			return nil, err
		}
		eof = err == io.EOF
	}
	if err := rd.end(raw); err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		if !rd.seen[f.Path] {
			return nil, memberErr(f.Path, ErrMissingMember)
		}
	}
	return m, nil
}

// next returns the next tar header and the raw bytes read to get it (the
// previous member's padding and the header blocks).
func (rd *reader) next() (*tar.Header, []byte, error) {
	rd.rec.start()
	hdr, err := rd.tr.Next()
	raw := rd.rec.stop()
	if err == io.EOF {
		return nil, raw, io.EOF
	}
	if err != nil {
		if errors.Is(err, errHeaderTooLong) {
			return nil, nil, fmt.Errorf("%w: %v", ErrNonCanonical, err)
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return hdr, raw, nil
}

// checkRaw checks that raw is exactly the padding of the previous member
// and the header Write would produce.
func (rd *reader) checkRaw(raw []byte, name string, size int64) error {
	want, err := encodeTarHeader(name, size, rd.m.Created)
	if err != nil {
		return memberErr(name, fmt.Errorf("%w: %v", ErrNonCanonical, err))
	}
	pad := padding(rd.prevSize)
	rd.prevSize = size
	if len(raw) != pad+len(want) || !allZero(raw[:pad]) || !bytes.Equal(raw[pad:], want) {
		return memberErr(name, fmt.Errorf("%w: tar header or padding differs from the canonical one", ErrNonCanonical))
	}
	return nil
}

// end checks the end-of-archive marker and that nothing follows it.
func (rd *reader) end(raw []byte) error {
	pad := padding(rd.prevSize)
	if len(raw) != pad+2*512 || !allZero(raw) {
		return fmt.Errorf("%w: tar end-of-archive marker is not canonical", ErrNonCanonical)
	}
	var b [1]byte
	n, err := io.ReadFull(rd.rec, b[:])
	if n != 0 {
		return fmt.Errorf("%w: data after the tar end-of-archive marker", ErrNonCanonical)
	}
	if err != io.EOF {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
}

// readSmall reads the manifest or signature member into memory.
func (rd *reader) readSmall(hdr *tar.Header, limit int64) ([]byte, error) {
	if hdr.Typeflag != tar.TypeReg {
		return nil, memberErr(hdr.Name, fmt.Errorf("%w (type %q)", ErrNotRegular, hdr.Typeflag))
	}
	if hdr.Size > limit {
		return nil, memberErr(hdr.Name, fmt.Errorf("%w: %d bytes, limit is %d", ErrTooLarge, hdr.Size, limit))
	}
	data, err := io.ReadAll(io.LimitReader(rd.tr, hdr.Size+1))
	if err != nil {
		return nil, memberErr(hdr.Name, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	if int64(len(data)) != hdr.Size {
		return nil, memberErr(hdr.Name, fmt.Errorf("%w: short member", ErrCorrupt))
	}
	return data, nil
}

// member checks and stages one member after the signature.
func (rd *reader) member(hdr *tar.Header, raw []byte) error {
	name := hdr.Name
	mem, err := ParseMemberPath(name)
	if err != nil {
		return memberErr(name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return memberErr(name, fmt.Errorf("%w (type %q)", ErrNotRegular, hdr.Typeflag))
	}
	if mem.Kind == KindManifest || mem.Kind == KindSignature || rd.seen[name] {
		return memberErr(name, ErrDuplicate)
	}
	f, ok := rd.files[name]
	if !ok {
		return memberErr(name, ErrNotInManifest)
	}
	switch {
	case hdr.Size > f.Size:
		return memberErr(name, fmt.Errorf("%w: %d bytes, manifest says %d", ErrTooLarge, hdr.Size, f.Size))
	case hdr.Size < f.Size:
		return memberErr(name, fmt.Errorf("%w: %d bytes, manifest says %d", ErrSizeMismatch, hdr.Size, f.Size))
	}
	if err := rd.checkRaw(raw, name, f.Size); err != nil {
		return err
	}
	rd.seen[name] = true

	if f.Size <= rd.zipMemory && (f.Size <= smallMember || mem.Kind == KindDownload && mem.FileKind == modfiles.Zip) {
		if mem.Kind == KindVulnDB {
			rd.vulndb = append(rd.vulndb, mem.VulnDB)
		}
		return rd.inMemory(name, mem, f)
	}

	// A staging failure (a full disk) is the reader's problem, not the
	// bundle's: it is not a MemberError and wraps none of the Err* values.
	w, err := rd.opts.Stage.Create(name)
	if err != nil {
		return fmt.Errorf("staging %s: %w", name, err)
	}
	h := sha256.New()
	sw := &stageWriter{w: w}
	n, err := io.Copy(io.MultiWriter(sw, h), io.LimitReader(rd.tr, f.Size+1))
	if cerr := w.Close(); sw.err == nil && cerr != nil {
		sw.err = cerr
	}
	if sw.err != nil {
		return fmt.Errorf("staging %s: %w", name, sw.err)
	}
	if err != nil {
		return memberErr(name, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	if n != f.Size {
		return memberErr(name, fmt.Errorf("%w: %d bytes, manifest says %d", ErrSizeMismatch, n, f.Size))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return memberErr(name, fmt.Errorf("%w: sha256 %s, manifest says %s", ErrHashMismatch, got, f.SHA256))
	}

	if mem.Kind == KindVulnDB {
		rd.vulndb = append(rd.vulndb, mem.VulnDB)
		rd.g.Go(func() error {
			if rd.gctx.Err() != nil {
				return nil
			}
			data, err := rd.readStaged(name)
			if err != nil {
				return err
			}
			return checkVulnEntry(name, mem, data)
		})
	}
	if mem.Kind == KindDownload && (mem.FileKind == modfiles.Zip || mem.FileKind == modfiles.Info) {
		mod := rd.modules[mem.Module]
		rd.g.Go(func() error {
			if rd.gctx.Err() != nil {
				return nil
			}
			return rd.checkDownload(name, mem, mod)
		})
	}
	return nil
}

// checkDownload runs the module checks on a staged .zip or .info file.
func (rd *reader) checkDownload(name string, mem Member, mod Module) error {
	file, err := rd.opts.Stage.LocalPath(name)
	if err != nil {
		return memberErr(name, err)
	}
	switch mem.FileKind {
	case modfiles.Zip:
		if err := onezip.CheckFile(file); err != nil {
			return memberErr(name, fmt.Errorf("%w: %w", ErrBadZip, err))
		}
		if _, err := modzip.CheckZip(mem.Module, file); err != nil {
			return memberErr(name, fmt.Errorf("%w: %w", ErrBadZip, err))
		}
		zf, err := os.Open(file)
		if err != nil {
			return memberErr(name, err)
		}
		defer zf.Close()
		fi, err := zf.Stat()
		if err != nil {
			return memberErr(name, err)
		}
		h, err := modfiles.HashZipReader(zf, fi.Size())
		if err != nil {
			return memberErr(name, fmt.Errorf("%w: %w", ErrBadZip, err))
		}
		if h != mod.ZipHash {
			return memberErr(name, fmt.Errorf("%w: zip hashes to %s, manifest says %s", ErrHashMismatch, h, mod.ZipHash))
		}
	case modfiles.Info:
		data, err := os.ReadFile(file)
		if err != nil {
			return memberErr(name, err)
		}
		return checkInfo(name, mem, data)
	}
	return nil
}

// zipMemory is the memory that members read into memory may take at
// once; a zip larger than that is staged and checked from its file. A
// variable for tests, which set it to 0 to check every member from its
// staged file.
var zipMemory int64 = 32 << 20

// smallMember is the size up to which members other than module zips are
// read into memory and handed to a check worker (inMemory).
const smallMember = 1 << 20

// inMemory reads the member name (a module zip, or a small member) into
// memory and hands it to a check worker, which hashes, stages and checks
// it (checkBytes): the stream goroutine only inflates the bundle and
// copies, while the workers hash and write on the other cores, and a zip
// is never read back from its staged file for its h1: hash. The memory
// the members in flight take is bounded by zipMemory; reading waits for
// it.
func (rd *reader) inMemory(name string, mem Member, f File) error {
	if err := rd.memory.Acquire(rd.gctx, f.Size); err != nil {
		return err
	}
	isZip := mem.Kind == KindDownload && mem.FileKind == modfiles.Zip
	buf := getZipBuf(f.Size, isZip)
	release := func() {
		putZipBuf(buf, isZip)
		rd.memory.Release(f.Size)
	}
	if _, err := io.ReadFull(rd.tr, *buf); err != nil {
		release()
		return memberErr(name, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	mod := rd.modules[mem.Module]
	rd.g.Go(func() error {
		defer release()
		if rd.gctx.Err() != nil {
			return nil
		}
		return rd.checkBytes(name, mem, mod, f, *buf)
	})
	return nil
}

// checkBytes checks the member data, name, against its manifest entries f
// (and mod, for a module's file), stages it, and runs the checks of its
// kind.
func (rd *reader) checkBytes(name string, mem Member, mod Module, f File, data []byte) error {
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
		return memberErr(name, fmt.Errorf("%w: sha256 %x, manifest says %s", ErrHashMismatch, sum, f.SHA256))
	}
	// As in member: a staging failure is not the bundle's.
	w, err := rd.opts.Stage.Create(name)
	if err != nil {
		return fmt.Errorf("staging %s: %w", name, err)
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("staging %s: %w", name, err)
	}
	switch {
	case mem.Kind == KindVulnDB:
		return checkVulnEntry(name, mem, data)
	case mem.Kind == KindDownload && mem.FileKind == modfiles.Info:
		return checkInfo(name, mem, data)
	case mem.Kind == KindDownload && mem.FileKind == modfiles.Zip:
		return rd.checkZipBytes(name, mem, mod, f, data)
	}
	return nil
}

// checkZipBytes checks the staged module zip data, member name, against
// its manifest entries f and mod.
func (rd *reader) checkZipBytes(name string, mem Member, mod Module, f File, data []byte) error {
	r := bytes.NewReader(data)
	if err := onezip.Check(r, f.Size); err != nil {
		return memberErr(name, fmt.Errorf("%w: %w", ErrBadZip, err))
	}
	// The module zip rules read only the central directory, from the
	// staged file.
	file, err := rd.opts.Stage.LocalPath(name)
	if err != nil {
		return memberErr(name, err)
	}
	if _, err := modzip.CheckZip(mem.Module, file); err != nil {
		return memberErr(name, fmt.Errorf("%w: %w", ErrBadZip, err))
	}
	h, err := modfiles.HashZipBytes(data)
	if err != nil {
		return memberErr(name, fmt.Errorf("%w: %w", ErrBadZip, err))
	}
	if h != mod.ZipHash {
		return memberErr(name, fmt.Errorf("%w: zip hashes to %s, manifest says %s", ErrHashMismatch, h, mod.ZipHash))
	}
	return nil
}

// checkInfo checks a module's .info file: JSON naming its version.
func checkInfo(name string, mem Member, data []byte) error {
	var info struct {
		Version string
		Time    time.Time
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return memberErr(name, fmt.Errorf("%w: %v", ErrBadInfo, err))
	}
	if info.Version != mem.Module.Version {
		return memberErr(name, fmt.Errorf("%w: Version is %q, want %q", ErrBadInfo, info.Version, mem.Module.Version))
	}
	return nil
}

// zipBufs and smallBufs pool the buffers of members in memory: zips,
// and the small others (so that a small member does not take a large
// zip's buffer).
var zipBufs, smallBufs sync.Pool

// getZipBuf returns a buffer of n bytes, reusing a pooled one if it is
// large enough; zip says which pool.
func getZipBuf(n int64, zip bool) *[]byte {
	pool := &smallBufs
	if zip {
		pool = &zipBufs
	}
	if b, _ := pool.Get().(*[]byte); b != nil && int64(cap(*b)) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

func putZipBuf(b *[]byte, zip bool) {
	if zip {
		zipBufs.Put(b)
	} else {
		smallBufs.Put(b)
	}
}

// stageWriter remembers a write error of the stage, to tell it apart from
// an error reading the bundle.
type stageWriter struct {
	w   io.Writer
	err error
}

func (s *stageWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

func padding(size int64) int { return int(-size & 511) }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// maxHeaderBytes bounds the raw bytes behind one tar header: padding, a PAX
// header for a long name and the header itself fit in far less.
const maxHeaderBytes = 8 << 10

var errHeaderTooLong = errors.New("tar header blocks too long")

// recorder passes reads through and, between start and stop, keeps a copy
// of what was read, so that the raw header bytes can be compared with the
// canonical ones.
type recorder struct {
	r         io.Reader
	recording bool
	buf       []byte
}

func (r *recorder) start() { r.recording, r.buf = true, r.buf[:0] }

func (r *recorder) stop() []byte {
	r.recording = false
	return bytes.Clone(r.buf)
}

func (r *recorder) Read(p []byte) (int, error) {
	if r.recording && len(r.buf)+len(p) > maxHeaderBytes {
		// archive/tar reads headers in 512-byte blocks; a larger
		// request while recording means a long PAX or GNU record.
		if len(r.buf) >= maxHeaderBytes {
			return 0, errHeaderTooLong
		}
		p = p[:maxHeaderBytes-len(r.buf)]
	}
	n, err := r.r.Read(p)
	if r.recording {
		r.buf = append(r.buf, p[:n]...)
	}
	return n, err
}

// newDecoder returns the zstd decoder bundles are read with. Windows larger
// than the one Write uses are refused, which bounds decoder memory for
// hostile input.
func newDecoder(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r, zstd.WithDecoderMaxWindow(zstdWindow), zstd.WithDecoderMaxMemory(zstdWindow))
}

// readFrameHeader reads the zstd frame header and checks that it is one of
// the two Write produces: a streamed frame with content checksum and a
// 32 MiB window (zstdWindow), or, for a bundle that fits in one block, a single-segment
// frame with content checksum and a minimally encoded content size. The
// decoder checks the size and the checksum.
func readFrameHeader(r io.Reader) ([]byte, error) {
	head := make([]byte, 5, 14)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("%w: reading zstd frame header: %v", ErrCorrupt, err)
	}
	if !bytes.Equal(head[:4], zstdFrameHeader[:4]) {
		return nil, fmt.Errorf("%w: not a zstd stream", ErrNonCanonical)
	}
	fhd := head[4]
	more := 0
	switch {
	case fhd == zstdFrameHeader[4]:
		more = 1 // window descriptor
	case fhd&0x3f == 0x24: // single segment, checksum, no dictionary
		more = [4]int{1, 2, 4, 8}[fhd>>6]
	default:
		return nil, fmt.Errorf("%w: zstd frame header descriptor %#02x", ErrNonCanonical, fhd)
	}
	head = head[:5+more]
	if _, err := io.ReadFull(r, head[5:]); err != nil {
		return nil, fmt.Errorf("%w: reading zstd frame header: %v", ErrCorrupt, err)
	}
	if fhd == zstdFrameHeader[4] {
		if head[5] != zstdFrameHeader[5] {
			return nil, fmt.Errorf("%w: zstd window descriptor %#02x", ErrNonCanonical, head[5])
		}
		return head, nil
	}
	var size uint64
	for i := more - 1; i >= 0; i-- {
		size = size<<8 | uint64(head[5+i])
	}
	if more == 2 {
		size += 256
	}
	minimal := 8
	switch {
	case size < 256:
		minimal = 1
	case size < 65536+256:
		minimal = 2
	case size < 1<<32:
		minimal = 4
	}
	if minimal != more || size > zstdWindow {
		return nil, fmt.Errorf("%w: zstd frame content size field", ErrNonCanonical)
	}
	return head, nil
}
