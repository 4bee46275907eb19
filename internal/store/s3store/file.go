package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modferry/modferry/internal/store"
)

// smallObject is the size up to which Open reads an object whole at once
// (.info, .mod, list files), so that reading it costs one request and no
// open connection stays with the File.
const smallObject = 64 << 10

// Open implements store.Store. It issues one GetObject; the returned
// File reads its body and, after a Seek elsewhere, issues a ranged GET
// from the new offset (see the package documentation). The File's reads
// use ctx.
func (s *Store) Open(ctx context.Context, name string) (store.File, error) {
	if err := store.CheckName(name); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		return nil, s.wrap("open", name, err)
	}
	info := fileInfo{name: path.Base(name), size: aws.ToInt64(out.ContentLength), modTime: aws.ToTime(out.LastModified)}
	if info.size <= smallObject {
		defer out.Body.Close()
		data, err := io.ReadAll(out.Body)
		if err != nil {
			return nil, s.wrap("open", name, err)
		}
		if int64(len(data)) != info.size {
			return nil, s.wrap("open", name, fmt.Errorf("read %d bytes of %d", len(data), info.size))
		}
		return &smallFile{Reader: bytes.NewReader(data), info: info}, nil
	}
	return &file{s: s, ctx: ctx, name: name, etag: aws.ToString(out.ETag), info: info, body: out.Body}, nil
}

// smallFile is an object read whole by Open.
type smallFile struct {
	*bytes.Reader
	info fileInfo
}

func (f *smallFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *smallFile) Close() error               { return nil }

// file streams a large object.
type file struct {
	s    *Store
	ctx  context.Context // Open's
	name string
	etag string // of the version opened: every ranged GET must match it
	info fileInfo

	pos     int64         // the offset of the next Read
	body    io.ReadCloser // nil, or a response body positioned at bodyPos
	bodyPos int64
	closed  bool
}

var errClosed = errors.New("file already closed")

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }

func (f *file) Read(p []byte) (int, error) {
	if f.closed {
		return 0, errClosed
	}
	if f.pos >= f.info.size {
		return 0, io.EOF
	}
	if f.body != nil && f.bodyPos != f.pos {
		f.body.Close()
		f.body = nil
	}
	if f.body == nil {
		out, err := f.s.client.GetObject(f.ctx, &s3.GetObjectInput{
			Bucket:  &f.s.bucket,
			Key:     aws.String(f.s.key(f.name)),
			Range:   aws.String(fmt.Sprintf("bytes=%d-", f.pos)),
			IfMatch: aws.String(f.etag),
		})
		if isPrecondition(err) {
			return 0, &Error{Op: "read", Name: f.name, Bucket: f.s.bucket, Endpoint: f.s.endpoint, Kind: store.ErrChanged, Err: err}
		}
		if err != nil {
			return 0, f.s.wrap("read", f.name, err)
		}
		f.body, f.bodyPos = out.Body, f.pos
	}
	n, err := f.body.Read(p)
	f.pos += int64(n)
	f.bodyPos += int64(n)
	if errors.Is(err, io.EOF) && f.pos < f.info.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// The next Read asks again from f.pos.
		f.body.Close()
		f.body = nil
		err = f.s.wrapBody("read", f.name, err)
	}
	return n, err
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, errClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.info.size
	default:
		return 0, fmt.Errorf("s3 seek %s: invalid whence %d", f.name, whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("s3 seek %s: negative offset", f.name)
	}
	f.pos = offset
	return offset, nil
}

func (f *file) Close() error {
	if f.closed {
		return errClosed
	}
	f.closed = true
	if f.body != nil {
		f.body.Close()
		f.body = nil
	}
	return nil
}

// fileInfo describes an object.
type fileInfo struct {
	name    string
	size    int64
	modTime time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return i.modTime }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
