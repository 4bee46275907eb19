//go:build unix

package store

import (
	"context"
	"io/fs"
	"syscall"
)

// ReadAll implements WholeReader: open, fstat, read, close, and nothing
// else. os.Open would also make the descriptor non-blocking, offer it to
// the network poller (which refuses a regular file) and make it blocking
// again: six more system calls per file, which dominated reading a large
// store's small files (inventory, the catalog's scan). An object is
// immutable once visible (writes replace it by rename), so the size fstat
// gives is the object's, and a read that fills it ends the read.
func (d *Disk) ReadAll(ctx context.Context, name string) ([]byte, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	path := d.Path(name)
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, notThere(&fs.PathError{Op: "open", Path: path, Err: err}, name)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if _, err := retryEINTR(func() (int, error) { return 0, syscall.Fstat(fd, &st) }); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	buf := make([]byte, st.Size)
	for n := 0; n < len(buf); {
		m, err := retryEINTR(func() (int, error) { return syscall.Read(fd, buf[n:]) })
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 { // shorter than it was at fstat: cannot happen to an object
			return buf[:n], nil
		}
		n += m
	}
	return buf, nil
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
