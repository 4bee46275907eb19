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
func spool(ctx context.Context, r io.Reader, tempDir string) (body io.ReadSeeker, size int64, cleanup func(), err error) {
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
	cleanup = func() {
		f.Close()
		os.Remove(f.Name())
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
	return f, int64(len(buf)) + n, cleanup, nil
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
