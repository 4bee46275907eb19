package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// zstd parameters. The reader insists on exactly this frame header, so they
// are part of format version 1.
const (
	zstdWindow = 32 << 20
)

// Level is how hard Write compresses. Module zips are already deflated,
// so the levels differ little in size (on a real 100 MB module set: fast
// 100.3 MB in 0.2 s, default 98.4 MB in 0.6 s, best 97.3 MB in 4.3 s, each
// on one core; zstd finds repeats across zips within its 32 MiB window).
// All levels write the same frame format.
type Level int

// The compression levels.
const (
	LevelDefault Level = iota
	LevelBest
	LevelFast
)

func (l Level) zstd() zstd.EncoderLevel {
	switch l {
	case LevelFast:
		return zstd.SpeedDefault
	case LevelBest:
		return zstd.SpeedBestCompression
	}
	return zstd.SpeedBetterCompression
}

// zstdFrameHeader is the start of every bundle: the zstd magic number, a
// frame header descriptor with only the content-checksum flag set, and the
// window descriptor for zstdWindow (2^25: 15<<3).
var zstdFrameHeader = []byte{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x78}

// Write writes a bundle to w: the canonical encoding of m, the signatures
// sigs of exactly those bytes (none: an unsigned bundle), then every file m lists, in canonical order, with its
// content read from open(name). Each file is hashed as it is copied and
// Write fails if its size or SHA-256 differs from the manifest. Files are
// streamed, never held in memory whole.
func Write(ctx context.Context, w io.Writer, m *Manifest, sigs Signatures, open func(name string) (io.ReadCloser, error)) error {
	return WriteLevel(ctx, w, m, sigs, open, LevelDefault)
}

// WriteLevel is Write with a choice of compression level.
func WriteLevel(ctx context.Context, w io.Writer, m *Manifest, sigs Signatures, open func(name string) (io.ReadCloser, error), level Level) error {
	if err := m.Validate(); err != nil {
		return err
	}
	for _, s := range sigs.members() {
		if len(s.data) > MaxSignatureSize {
			return fmt.Errorf("bundle: %s larger than %d bytes", s.name, MaxSignatureSize)
		}
	}
	c := m.canonical()
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	if len(data) > MaxManifestSize {
		return fmt.Errorf("bundle: manifest is %d bytes, limit is %d", len(data), MaxManifestSize)
	}
	zw, err := newEncoder(w, level)
	if err != nil {
		return err
	}
	defer zw.Close()
	tw := tar.NewWriter(zw)
	if err := writeMember(tw, ManifestName, c.Created, bytes.NewReader(data), int64(len(data))); err != nil {
		return err
	}
	for _, s := range sigs.members() {
		if err := writeMember(tw, s.name, c.Created, bytes.NewReader(s.data), int64(len(s.data))); err != nil {
			return err
		}
	}
	for _, f := range c.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeFile(tw, f, c.Created, open); err != nil {
			return memberErr(f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func writeFile(tw *tar.Writer, f File, mtime time.Time, open func(string) (io.ReadCloser, error)) error {
	rc, err := open(f.Path)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	if err := writeMember(tw, f.Path, mtime, io.TeeReader(rc, h), f.Size); err != nil {
		return err
	}
	// The source must end where the manifest says it does.
	if n, _ := io.ReadFull(rc, make([]byte, 1)); n != 0 {
		return fmt.Errorf("%w: source is longer than %d bytes", ErrSizeMismatch, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: sha256 %s, manifest says %s", ErrHashMismatch, got, f.SHA256)
	}
	return rc.Close()
}

func writeMember(tw *tar.Writer, name string, mtime time.Time, r io.Reader, size int64) error {
	if err := tw.WriteHeader(tarHeader(name, size, mtime)); err != nil {
		return err
	}
	// One copy buffer for every member: io.CopyN would allocate 32 KiB
	// per member (tens of megabytes of garbage over a large bundle,
	// which the garbage collector lets pile up beside the 64 MiB window).
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(tw, io.LimitReader(r, size), *buf)
	copyBufs.Put(buf)
	if err == nil && n < size {
		err = io.EOF
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: source has %d bytes, manifest says %d", ErrSizeMismatch, n, size)
	}
	return err
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// tarHeader returns the one header a member may have.
func tarHeader(name string, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  mtime.UTC().Truncate(time.Second),
	}
}

// encodeTarHeader returns the exact bytes Write produces for a header.
func encodeTarHeader(name string, size int64, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(tarHeader(name, size, mtime)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newEncoder returns the zstd encoder every bundle is written with.
func newEncoder(w io.Writer, level Level) (*zstd.Encoder, error) {
	return zstd.NewWriter(w,
		zstd.WithEncoderLevel(level.zstd()),
		zstd.WithWindowSize(zstdWindow),
		// Multi-threaded, but without concurrent blocks: with those the
		// encoder buffers blocks ahead of the writer (400-500 MB for a
		// 100 MB bundle); without, it stays near 75 MB.
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithConcurrentBlocks(false),
		zstd.WithEncoderCRC(true),
	)
}
