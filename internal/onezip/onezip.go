// Package onezip checks that a file is exactly one zip archive and nothing
// else: the first local file header at offset 0, every entry's local header
// and data following the previous one with no gap, the central directory
// right after the last entry, and the end-of-central-directory record (with
// no comment) ending the file.
//
// Go's zip reader finds an archive by its end record and accepts data in
// front of it (it computes a base offset), so "JUNK + decoy.zip + real.zip"
// reads as real.zip there, while a streaming reader, or one that scans from
// the front, sees the decoy. The module zip rules of golang.org/x/mod/zip
// look only at what Go's reader sees, and the h1: hash covers only that, so
// a store must refuse such files rather than keep them byte for byte.
//
// The check reads the end record, the central directory and each local
// header (a few bytes per entry), never the file data.
package onezip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotOneZip is matched by every error Check returns for a file that is
// not exactly one zip archive.
var ErrNotOneZip = errors.New("not exactly one zip archive")

const (
	localHeaderSig = 0x04034b50
	centralSig     = 0x02014b50
	endSig         = 0x06054b50
	end64Sig       = 0x06064b50
	end64LocSig    = 0x07064b50
	descriptorSig  = 0x08074b50

	localHeaderLen = 30
	centralLen     = 46
	endLen         = 22
	end64LocLen    = 20
	end64Len       = 56

	// maxEntries bounds the central directory walk.
	maxEntries = 1 << 20
)

// CheckFile is Check for the named file.
func CheckFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return Check(f, fi.Size())
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotOneZip, fmt.Sprintf(format, args...))
}

// Check reports whether r, of size bytes, is exactly one zip archive.
// Errors about the layout match ErrNotOneZip; others are read errors.
func Check(r io.ReaderAt, size int64) error {
	if size < endLen {
		return bad("%d bytes is too short for a zip file", size)
	}
	// The end record must be the last 22 bytes: no comment, nothing after.
	end := make([]byte, endLen)
	if _, err := r.ReadAt(end, size-endLen); err != nil {
		return err
	}
	le := binary.LittleEndian
	if le.Uint32(end) != endSig {
		return bad("the file does not end with a zip end-of-central-directory record without comment (trailing bytes or a comment)")
	}
	if disk, cdDisk := le.Uint16(end[4:]), le.Uint16(end[6:]); disk != 0 || cdDisk != 0 {
		return bad("multi-disk archive")
	}
	count := uint64(le.Uint16(end[10:]))
	if n := le.Uint16(end[8:]); uint64(n) != count {
		return bad("entry counts disagree (%d, %d)", n, count)
	}
	cdSize := uint64(le.Uint32(end[12:]))
	cdOff := uint64(le.Uint32(end[16:]))
	cdEnd := uint64(size - endLen) // where the central directory must end

	if count == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff {
		// Zip64: a locator right before the end record, pointing at a
		// zip64 end record right before the locator.
		if size < endLen+end64LocLen+end64Len {
			return bad("truncated zip64 end records")
		}
		loc := make([]byte, end64LocLen)
		if _, err := r.ReadAt(loc, size-endLen-end64LocLen); err != nil {
			return err
		}
		if le.Uint32(loc) != end64LocSig {
			return bad("zip64 fields without a zip64 locator right before the end record")
		}
		recOff := le.Uint64(loc[8:])
		if recOff != uint64(size-endLen-end64LocLen-end64Len) {
			return bad("zip64 end record is not right before its locator")
		}
		rec := make([]byte, end64Len)
		if _, err := r.ReadAt(rec, int64(recOff)); err != nil {
			return err
		}
		if le.Uint32(rec) != end64Sig || le.Uint64(rec[4:]) != end64Len-12 {
			return bad("malformed zip64 end record")
		}
		count = le.Uint64(rec[32:])
		if le.Uint64(rec[24:]) != count {
			return bad("zip64 entry counts disagree")
		}
		cdSize = le.Uint64(rec[40:])
		cdOff = le.Uint64(rec[48:])
		cdEnd = recOff
	}
	if count > maxEntries {
		return bad("%d entries", count)
	}
	if cdOff > cdEnd || cdEnd-cdOff != cdSize {
		return bad("the central directory (offset %d, %d bytes) does not end where the end record starts (%d): data in front of the archive or between its parts", cdOff, cdSize, cdEnd)
	}
	cd := make([]byte, cdSize)
	if _, err := r.ReadAt(cd, int64(cdOff)); err != nil {
		return err
	}
	// Walk the central directory; each entry's local header must start
	// where the previous entry ended.
	next := uint64(0)
	var prev *entry // the entry before, whose data descriptor may follow it
	for i := uint64(0); i < count; i++ {
		if len(cd) < centralLen || le.Uint32(cd) != centralSig {
			return bad("central directory entry %d is malformed", i)
		}
		flags := le.Uint16(cd[8:])
		crc := le.Uint32(cd[16:])
		csize := uint64(le.Uint32(cd[20:]))
		usize := uint64(le.Uint32(cd[24:]))
		nameLen, extraLen, commentLen := int(le.Uint16(cd[28:])), int(le.Uint16(cd[30:])), int(le.Uint16(cd[32:]))
		off := uint64(le.Uint32(cd[42:]))
		if len(cd) < centralLen+nameLen+extraLen+commentLen {
			return bad("central directory entry %d is truncated", i)
		}
		name := cd[centralLen : centralLen+nameLen]
		extra := cd[centralLen+nameLen : centralLen+nameLen+extraLen]
		cd = cd[centralLen+nameLen+extraLen+commentLen:]
		if usize == 0xffffffff || csize == 0xffffffff || off == 0xffffffff {
			var err error
			if _, csize, off, err = zip64Extra(extra, usize, csize, off); err != nil {
				return bad("entry %q: %v", name, err)
			}
		}
		if off < next {
			return bad("entry %q overlaps the one before it", name)
		}
		if off > next {
			if i == 0 {
				return bad("%d bytes in front of the first entry", off)
			}
			if err := prev.descriptor(r, next, off-next); err != nil {
				return err
			}
		}
		lh := make([]byte, localHeaderLen)
		if _, err := r.ReadAt(lh, int64(off)); err != nil {
			return bad("entry %q: local header: %v", name, err)
		}
		if le.Uint32(lh) != localHeaderSig {
			return bad("entry %q: no local file header at offset %d", name, off)
		}
		lname, lextra := int(le.Uint16(lh[26:])), int(le.Uint16(lh[28:]))
		ln := make([]byte, lname)
		if _, err := r.ReadAt(ln, int64(off)+localHeaderLen); err != nil {
			return bad("entry %q: local header: %v", name, err)
		}
		if !bytes.Equal(ln, name) {
			return bad("entry %q: local header names %q", name, ln)
		}
		next = off + localHeaderLen + uint64(lname) + uint64(lextra) + csize
		if next > cdOff {
			return bad("entry %q runs into the central directory", name)
		}
		prev = &entry{name: string(name), flags: flags, crc: crc}
	}
	if len(cd) != 0 {
		return bad("%d bytes after the last central directory entry", len(cd))
	}
	if next != cdOff {
		if prev == nil {
			return bad("%d bytes in front of the central directory", cdOff)
		}
		return prev.descriptor(r, next, cdOff-next)
	}
	return nil
}

type entry struct {
	name  string
	flags uint16
	crc   uint32
}

// descriptor checks that the n bytes at off, after e's data, are e's data
// descriptor: its CRC-32 and 32- or 64-bit sizes, with or without the
// signature, as the entry's flags announce.
func (e *entry) descriptor(r io.ReaderAt, off, n uint64) error {
	if e.flags&0x8 == 0 || n < 12 || n > 24 || n%4 != 0 {
		return bad("%d unexplained bytes after entry %q", n, e.name)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(off)); err != nil {
		return err
	}
	le := binary.LittleEndian
	if n == 16 || n == 24 {
		if le.Uint32(b) != descriptorSig {
			return bad("entry %q: malformed data descriptor", e.name)
		}
		b = b[4:]
	}
	if le.Uint32(b) != e.crc {
		return bad("entry %q: data descriptor CRC differs from the central directory", e.name)
	}
	return nil
}

// zip64Extra reads the sizes and offset an entry stores in its zip64
// extra field, in the order the format gives, each only if its 32-bit
// field is saturated.
func zip64Extra(extra []byte, usize, csize, off uint64) (uint64, uint64, uint64, error) {
	le := binary.LittleEndian
	for len(extra) >= 4 {
		id, n := le.Uint16(extra), int(le.Uint16(extra[2:]))
		if len(extra) < 4+n {
			break
		}
		field := extra[4 : 4+n]
		extra = extra[4+n:]
		if id != 1 {
			continue
		}
		for _, p := range []*uint64{&usize, &csize, &off} {
			if *p != 0xffffffff {
				continue
			}
			if len(field) < 8 {
				return 0, 0, 0, errors.New("short zip64 extra field")
			}
			*p, field = le.Uint64(field), field[8:]
		}
		return usize, csize, off, nil
	}
	return 0, 0, 0, errors.New("zip64 sizes without a zip64 extra field")
}
