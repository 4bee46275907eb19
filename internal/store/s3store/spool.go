package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
)

// memSpool is the size up to which spool keeps an object in memory.
const memSpool = 4 << 20

// spool reads r whole into something the SDK can send with a length and
// rewind for a retry: memory for a small object, a temporary file in
// tempDir ("" for os.TempDir()) for a larger one. cleanup removes the file.
//
// A reader that is a random-access file or buffer already (an *os.File of
// a staged zip, a bytes.Reader) is sent as it is, from its current offset:
// a section of it, with no copy.
func spool(ctx context.Context, r io.Reader, tempDir string) (body io.ReadSeeker, size int64, cleanup func(), err error) {
	if ra, ok := r.(readSeekerAt); ok {
		if body, size, ok := section(ra); ok {
			return body, size, func() {}, nil
		}
	}
	r = ctxReader{ctx, r}
	buf := make([]byte, 0, 64<<10)
	for len(buf) < memSpool {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return bytes.NewReader(buf), int64(len(buf)), func() {}, nil
		}
		if err != nil {
			return nil, 0, nil, err
		}
	}
	f, err := os.CreateTemp(tempDir, "modferry-s3-*")
	if err != nil {
		return nil, 0, nil, err
	}
	// Unlinked at once where the system allows it, so that a crash
	// leaves nothing behind; elsewhere removed by cleanup.
	removed := os.Remove(f.Name()) == nil
	cleanup = func() {
		f.Close()
		if !removed {
			os.Remove(f.Name())
		}
	}
	if _, err := f.Write(buf); err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	n, err := io.Copy(f, r)
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, int64(len(buf)) + n, cleanup, nil
}

type readSeekerAt interface {
	io.ReaderAt
	io.Seeker
}

// section returns the rest of ra from its current offset, if ra can tell
// its size (a regular file, a buffer; not a pipe).
func section(ra readSeekerAt) (io.ReadSeeker, int64, bool) {
	if f, ok := ra.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return nil, 0, false
		}
	}
	cur, err := ra.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, false
	}
	end, err := ra.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, false
	}
	if _, err := ra.Seek(cur, io.SeekStart); err != nil || end < cur {
		return nil, 0, false
	}
	return io.NewSectionReader(ra, cur, end-cur), end - cur, true
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
