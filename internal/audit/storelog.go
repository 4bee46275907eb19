package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/modferry/modferry/internal/digest"
	"github.com/modferry/modferry/internal/store"
)

// Where a store keeps its audit log. A store on the local filesystem
// keeps it as the file StoreDir/LogFile, with its head and lock files
// (Open); any other store, which several servers may share and where no
// file can be appended to, as a journal of one object per entry under
// StoreJournalDir (JournalIn, OpenJournal).
const (
	StoreDir        = "audit"
	StoreJournalDir = StoreDir + "/entries"
	storeLogFile    = StoreDir + "/" + LogFile
)

// JournalIn returns the journal of the audit log of st, a store that is
// not on the local filesystem.
func JournalIn(st store.Store) StoreJournal {
	return StoreJournal{Store: st, Dir: StoreJournalDir}
}

// A Follower reads the audit log of a store as it grows, for readers
// that keep what it records (the catalog: publishes and the signers of
// imports; prune: publishes), each time reading only what was appended
// since. It reads both forms a log may take in a store, the file first
// and then the journal, so that a reader need not know which one the
// store's writers chose: a store has one of the two, and on it the other
// costs one missing object or empty listing per call.
//
// A Follower is not safe for concurrent use.
type Follower struct {
	// Strict makes a log this process may not read, and a rest of the
	// file too long to be a line, an error rather than no lines: for a
	// reader that must see every entry (prune).
	Strict bool

	st       store.Store
	off      int64  // bytes of the file read
	seq      int64  // the last journal entry read
	lastHash string // hashLine of entry seq
}

// NewFollower returns a Follower of the audit log of st, at its start.
func NewFollower(st store.Store) *Follower {
	return &Follower{st: st}
}

// Next calls f with each complete line (an encoded entry, without its
// newline) appended to the log since the last call that returned nil, in
// order: the file's new lines, then the journal's new entries. A line
// being appended to the file is left for a later call, as is a rest of
// the file too long to be a line (not a log this version reads).
//
// When the file is shorter than what was read before (cut after a torn
// line), Next reads the whole log again from its start and returns
// restarted = true: the caller drops what earlier calls told it and keeps
// what f saw this time.
//
// If Next returns an error, f may have seen some lines, but the Follower
// has not moved: the next call reads them again. A caller keeps what f
// saw only when Next returns nil.
func (fl *Follower) Next(ctx context.Context, f func(line []byte)) (restarted bool, err error) {
	return fl.NextForms(ctx, f, f)
}

// NextForms is Next with the file's lines given to file and the journal's
// to journal: the two forms number their entries each from 1, so that a
// reader that links entries by seq (an outcome to its intent) keeps them
// apart.
func (fl *Follower) NextForms(ctx context.Context, file, journal func(line []byte)) (restarted bool, err error) {
	f := journal
	off, seq, last := fl.off, fl.seq, fl.lastHash
	off, restarted, err = readFileFrom(ctx, fl.st, off, fl.Strict, file)
	if err != nil {
		return false, err
	}
	if restarted {
		seq, last = 0, ""
	}
	j := JournalIn(fl.st)
	err = j.Entries(ctx, seq+1, func(s int64, line []byte) error {
		f(line)
		seq, last = s, hashLine(line)
		return nil
	})
	if errors.Is(err, fs.ErrPermission) && !fl.Strict {
		err = nil // a journal this process may not read, as for the file
	}
	if err != nil {
		return false, err
	}
	fl.off, fl.seq, fl.lastHash = off, seq, last
	return restarted, nil
}

// readFileFrom calls f with the complete lines of the store's log file
// from offset off on, and returns the offset after the last one. A
// missing file (or, unless strict, one this process may not read) has
// no lines; a file shorter than off is read from its start (restarted).
func readFileFrom(ctx context.Context, st store.Store, off int64, strict bool, f func([]byte)) (end int64, restarted bool, err error) {
	file, err := st.Open(ctx, storeLogFile)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) && !strict {
		return off, false, nil
	}
	if err != nil {
		return off, false, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return off, false, err
	}
	if fi.Size() < off {
		off, restarted = 0, true
	}
	if fi.Size() == off {
		return off, restarted, nil
	}
	if _, err := file.Seek(off, io.SeekStart); err != nil {
		return off, false, err
	}
	// Buffers of the part to read, up to 1 MiB: a follower that polls a
	// small log does not take 2 MiB each time.
	size := min(fi.Size()-off+1, 1<<20)
	buf := make([]byte, 0, size)
	chunk := make([]byte, size)
	for {
		n, rerr := file.Read(chunk)
		buf = append(buf, chunk[:n]...)
		// Complete lines only; an append in progress is read next time.
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			for line := range bytes.Lines(buf[:i+1]) {
				f(bytes.TrimSuffix(line, []byte("\n")))
			}
			off += int64(i + 1)
			buf = append(buf[:0], buf[i+1:]...)
		}
		if rerr == io.EOF {
			return off, restarted, nil
		}
		if rerr != nil {
			return 0, false, rerr
		}
		if len(buf) > MaxLineSize {
			if strict {
				return 0, false, fmt.Errorf("audit: %s: %w at byte %d", storeLogFile, errLineTooLong, off)
			}
			// Not a log this version reads: stop here, try again later.
			return off, restarted, nil
		}
	}
}

// StoreFileReader opens the file form of the audit log of st
// (StoreDir/LogFile) through the store: on a store that keeps its log as
// a journal, the history a store moved from a disk into a bucket brought
// with it, which readers (Follower) still read. The error matches
// fs.ErrNotExist when there is none.
func StoreFileReader(ctx context.Context, st store.Store) (io.ReadCloser, error) {
	return st.Open(ctx, storeLogFile)
}

// VerifyStoreFile checks the file form of the audit log of st (see
// StoreFileReader), against its head file where the store has one (as
// Log.Verify does on disk), else its chain alone. It returns the entries
// checked, and ok false when the store holds no such file.
func VerifyStoreFile(ctx context.Context, st store.Store) (n int, ok bool, err error) {
	f, err := StoreFileReader(ctx, st)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	b, err := store.ReadAll(ctx, st, StoreDir+"/"+HeadFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		n, err = Verify(f)
		return n, true, err
	case err != nil:
		return 0, true, err
	}
	var h Head
	if json.Unmarshal(b, &h) != nil || h.Seq < 0 || !digest.IsHex(h.Hash) {
		return 0, true, fmt.Errorf("%w: %s/%s is not valid", ErrTampered, StoreDir, HeadFile)
	}
	n, err = VerifyHead(f, h)
	return n, true, err
}
