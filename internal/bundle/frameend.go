package bundle

import (
	"errors"
	"fmt"
	"io"
)

// errAfterFrame is what a frameEnd reports once bytes follow the frame.
var errAfterFrame = fmt.Errorf("%w: data after the end of the zstd frame", ErrNonCanonical)

// frameEnd passes the blocks of one zstd frame (everything after its
// header) through to the decoder and finds, from the block headers, where
// the frame ends, so that nothing may follow it. The decoder alone would
// skip a skippable frame after it, or decode an empty frame, so that
// bytes could be appended to a signed bundle without failing its checks.
type frameEnd struct {
	r        io.Reader
	checksum bool // the frame ends with a 4-byte content checksum

	phase int     // phaseHeader, phaseBody, phaseChecksum, phaseDone
	hdr   [3]byte // the block header read so far
	nhdr  int
	left  int  // bytes left of the block's content or of the checksum
	last  bool // the current block is the frame's last
	after bool // bytes came after the end of the frame
}

const (
	phaseHeader = iota
	phaseBody
	phaseChecksum
	phaseDone
)

func (f *frameEnd) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.scan(p[:n]) {
		return n, errAfterFrame
	}
	return n, err
}

// scan follows b through the frame; it reports whether any of it lies
// after the frame's end.
func (f *frameEnd) scan(b []byte) bool {
	for len(b) > 0 {
		switch f.phase {
		case phaseDone:
			f.after = true
			return true
		case phaseHeader:
			k := copy(f.hdr[f.nhdr:], b)
			f.nhdr += k
			b = b[k:]
			if f.nhdr < 3 {
				continue
			}
			f.nhdr = 0
			h := uint32(f.hdr[0]) | uint32(f.hdr[1])<<8 | uint32(f.hdr[2])<<16
			f.last = h&1 != 0
			switch (h >> 1) & 3 {
			case 1: // RLE: one byte repeated
				f.left = 1
			case 3: // reserved: the decoder refuses the frame
				f.phase = phaseDone
				return false
			default: // raw or compressed
				f.left = int(h >> 3)
			}
			f.phase = phaseBody
			f.endOfPart()
		default: // phaseBody, phaseChecksum
			k := min(f.left, len(b))
			f.left -= k
			b = b[k:]
			f.endOfPart()
		}
	}
	return false
}

// endOfPart moves on once the current block's content or the checksum
// has been read whole.
func (f *frameEnd) endOfPart() {
	if f.left > 0 {
		return
	}
	switch {
	case f.phase == phaseBody && !f.last:
		f.phase = phaseHeader
	case f.phase == phaseBody && f.checksum:
		f.phase, f.left = phaseChecksum, 4
	default:
		f.phase = phaseDone
	}
}

// drain reads what is left of the input after the decoder finished: the
// frame's last bytes, which the decoder need not have asked for, and then
// nothing.
func (f *frameEnd) drain() error {
	_, err := io.Copy(io.Discard, f)
	if errors.Is(err, errAfterFrame) || f.after {
		return errAfterFrame
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if f.phase != phaseDone {
		return fmt.Errorf("%w: the zstd frame is cut short", ErrCorrupt)
	}
	return nil
}
