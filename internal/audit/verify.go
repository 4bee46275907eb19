package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// A ChainError reports the first entry of a log that breaks the hash chain.
type ChainError struct {
	Line   int    // 1-based line number of the entry to blame
	Seq    int64  // the seq that line should have (its position in the chain)
	Reason string // what is wrong, in words
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit log: line %d (seq %d): %s", e.Line, e.Seq, e.Reason)
}

// Is reports that e matches ErrTampered: a broken chain is tampering.
func (e *ChainError) Is(target error) bool { return target == ErrTampered }

// Verify reads a log and checks its hash chain, returning the number of
// entries. On failure it returns the number of entries before the first bad
// one and a *ChainError naming it (other errors come from r). A last line
// without its newline after an intact chain is a *TornError, not a
// ChainError.
//
// The line blamed follows the most likely single change:
//
//   - a line that does not parse, or lacks its newline, is blamed itself;
//   - a line whose seq is not the next one (an entry removed before it,
//     inserted, or lines reordered) is blamed itself;
//   - two lines claiming the same seq and the same prev: the one the next
//     line does not chain to is blamed (an inserted entry);
//   - a line whose prev is not the hash of the line before: the line before
//     was changed, unless the next line does not chain to this one either,
//     in which case this line itself (its prev) was changed.
//
// Verify alone cannot see a change to the last line or the removal of the
// last lines; VerifyHead can.
func Verify(r io.Reader) (n int, err error) {
	return verify(r, nil)
}

// VerifyHead is Verify, and also checks that the log holds entry head.Seq
// with hash head.Hash: that nothing up to the head was removed or changed.
// The log may have entries after the head (the head file is updated just
// after each append, and a head written down by an operator is older).
func VerifyHead(r io.Reader, head Head) (n int, err error) {
	return verify(r, &head)
}

// verifier holds the state of one pass.
type verifier struct {
	lines *lineReader
	line  int    // number of the current line
	prev  *Entry // the previous entry, nil at the start
	hash  string // hash of the previous line, Genesis at the start
	head  *Head  // the head to check against, if any
}

func verify(r io.Reader, head *Head) (int, error) {
	v := &verifier{lines: newLineReader(r), hash: Genesis, head: head}
	var headSeen bool
	var torn *TornError
	for {
		line, err := v.lines.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errNoNewline) {
			torn = &TornError{Line: v.line + 1, Bytes: len(line)}
			break
		}
		v.line++
		want := int64(v.line)
		if errors.Is(err, errLineTooLong) {
			return v.line - 1, &ChainError{Line: v.line, Seq: want, Reason: err.Error()}
		}
		if err != nil {
			return v.line - 1, err
		}
		e, perr := ParseLine(line)
		if perr != nil {
			return v.line - 1, &ChainError{Line: v.line, Seq: want, Reason: perr.Error()}
		}
		if err := v.check(&e, line); err != nil {
			return err.Line - 1, err
		}
		h := hashLine(line)
		if head != nil && e.Seq == head.Seq {
			if h != head.Hash {
				return v.line - 1, &ChainError{Line: v.line, Seq: want,
					Reason: fmt.Sprintf("hash %.12s… differs from the head's %.12s…: entry changed", h, head.Hash)}
			}
			headSeen = true
		}
		v.prev, v.hash = &e, h
	}
	if head != nil && head.Seq > 0 && !headSeen {
		return v.line, &ChainError{Line: v.line + 1, Seq: int64(v.line) + 1,
			Reason: fmt.Sprintf("log ends at seq %d but the head is seq %d: entries removed from the end", v.line, head.Seq)}
	}
	if torn != nil {
		return v.line, torn
	}
	return v.line, nil
}

// A TornError reports a last line without its newline after a chain that
// checks out: an append that a crash or a full disk interrupted, and
// which therefore never returned, not tampering. The next append cuts the
// line off and records that in an ActionRecover entry. Callers that accept
// such a log treat a TornError as success and report it.
type TornError struct {
	Line  int // 1-based line number of the incomplete line
	Bytes int // its length
}

func (e *TornError) Error() string {
	return fmt.Sprintf("audit log: line %d is incomplete (%d bytes, no newline): an append interrupted by a crash or a full disk, never acknowledged; the next append cuts it off and records that", e.Line, e.Bytes)
}

// check checks entry e, on the current line, against the one before it.
func (v *verifier) check(e *Entry, line []byte) *ChainError {
	want := int64(v.line)
	bad := func(lineNo int, format string, args ...any) *ChainError {
		return &ChainError{Line: lineNo, Seq: int64(lineNo), Reason: fmt.Sprintf(format, args...)}
	}
	if e.Seq != want {
		if v.prev != nil && e.Seq == v.prev.Seq && e.Prev == v.prev.Prev {
			// Two entries claim the same place. The genuine one is the one
			// the next line chains to.
			if v.nextChainsTo(line) {
				return bad(v.line-1, "entry inserted: seq %d appears twice and the chain continues from line %d", e.Seq, v.line)
			}
			return bad(v.line, "entry inserted: seq %d appears twice", e.Seq)
		}
		if e.Seq > want {
			return bad(v.line, "seq is %d, want %d: entries removed or reordered", e.Seq, want)
		}
		return bad(v.line, "seq is %d, want %d: entry inserted or lines reordered", e.Seq, want)
	}
	if e.Prev == v.hash {
		return nil
	}
	if v.prev == nil {
		return bad(v.line, "prev is not the genesis value: entry changed")
	}
	// Either the previous line changed (its hash moved) or this line's
	// prev did (then this line's own hash moved too, and the next line
	// does not chain to it either).
	if next, ok := v.lines.peek(); ok {
		if ne, err := ParseLine(next); err == nil && ne.Seq == want+1 && ne.Prev != hashLine(line) {
			return bad(v.line, "prev does not match line %d and line %d does not chain to this one: entry changed", v.line-1, v.line+1)
		}
	} else if v.head != nil && v.head.Seq == want && v.head.Hash != hashLine(line) {
		return bad(v.line, "prev does not match line %d and the hash differs from the head's: entry changed", v.line-1)
	}
	return bad(v.line-1, "hash does not match the prev of line %d: entry changed", v.line)
}

// nextChainsTo reports whether the line after the current one records line
// as its predecessor.
func (v *verifier) nextChainsTo(line []byte) bool {
	next, ok := v.lines.peek()
	if !ok {
		return false
	}
	ne, err := ParseLine(next)
	return err == nil && ne.Prev == hashLine(line)
}

// lineReader splits a log into lines with one line of look-ahead.
type lineReader struct {
	r       *bufio.Reader
	peeked  []byte
	peekErr error
	hasPeek bool
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// errNoNewline is returned by lineReader, with the line, for a last line
// without newline.
var errNoNewline = errors.New("last line has no newline: log truncated or being written")

// next returns the next line without its newline, io.EOF at the end,
// errLineTooLong, or errNoNewline.
func (lr *lineReader) next() ([]byte, error) {
	if lr.hasPeek {
		lr.hasPeek = false
		return lr.peeked, lr.peekErr
	}
	return lr.read()
}

// peek returns the line after the current one, if it is a complete line.
func (lr *lineReader) peek() ([]byte, bool) {
	if !lr.hasPeek {
		lr.peeked, lr.peekErr = lr.read()
		lr.hasPeek = true
	}
	return lr.peeked, lr.peekErr == nil
}

func (lr *lineReader) read() ([]byte, error) {
	var line []byte
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineSize+1 {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return line, errNoNewline
		default:
			return nil, err
		}
	}
}
