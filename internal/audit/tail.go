package audit

import (
	"bytes"
	"fmt"
	"io"
)

// tail describes the end of a log file.
type tail struct {
	last      []byte // the last complete line, without its newline; nil if none
	lastStart int64  // offset where last starts
	end       int64  // offset just after last's newline: where a torn fragment starts
	size      int64  // file size; size > end means a torn final line
}

// errLineTooLong is returned by readTail when no newline is found within
// MaxLineSize bytes.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineSize)

// readTail finds the last complete line of f, whose size is size, reading
// backwards from the end in small chunks rather than the whole file.
func readTail(f io.ReaderAt, size int64) (tail, error) {
	t := tail{size: size}
	// The last newline marks the end of the last complete line.
	nl, err := lastNewline(f, size, size)
	if err != nil {
		return t, err
	}
	if nl < 0 {
		return t, nil // no complete line at all
	}
	t.end = nl + 1
	start, err := lastNewline(f, nl, nl)
	if err != nil {
		return t, err
	}
	t.lastStart = start + 1
	t.last = make([]byte, nl-t.lastStart)
	if _, err := f.ReadAt(t.last, t.lastStart); err != nil {
		return t, err
	}
	return t, nil
}

// lastNewline returns the offset of the last '\n' before offset end, or -1
// if there is none. It reads at most MaxLineSize+1 bytes back from
// lineEnd (the end of the line being searched for) before giving up.
func lastNewline(f io.ReaderAt, end, lineEnd int64) (int64, error) {
	const chunk = 4096
	buf := make([]byte, chunk)
	for end > 0 {
		if lineEnd-end > MaxLineSize+1 {
			return 0, errLineTooLong
		}
		n := int64(chunk)
		if end < n {
			n = end
		}
		b := buf[:n]
		if _, err := f.ReadAt(b, end-n); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return end - n + int64(i), nil
		}
		end -= n
	}
	return -1, nil
}
