package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// A Journal keeps a log's entries as numbered records that never change,
// for a log kept where no file can be appended to and no lock is held
// across processes: an object store that several servers share. Its
// Append is a conditional create, so two writers that both read entry N
// and chain onto it cannot both write entry N+1: one gets fs.ErrExist,
// reads the new end and chains again (AppendJournal). That is a
// linearizable append with no lock server, and the chain is the one of
// log.jsonl: the same lines, each one's prev the SHA-256 of the line
// before, so VerifyJournal checks it exactly as Verify checks the file.
//
// The file log (Open, Log) does not go through a Journal: its
// write-ahead reservation of room on disk and its recovery of a torn last
// line belong to one appended file.
type Journal interface {
	// Append stores line (an encoded entry, without newline) as entry
	// seq if there is no entry seq yet. If there is, it changes nothing
	// and returns an error matching fs.ErrExist.
	Append(ctx context.Context, seq int64, line []byte) error
	// Last returns the highest seq stored and its line; 0 and nil for
	// an empty journal.
	Last(ctx context.Context) (seq int64, line []byte, err error)
	// Entries calls f with every entry from seq from on, in order.
	Entries(ctx context.Context, from int64, f func(seq int64, line []byte) error) error
}

// StoreJournal is a Journal in a store.Store: entry N is the object
// DIR/N, with N zero-padded to 20 digits so that names sort as numbers,
// written by Create (the store's conditional write).
type StoreJournal struct {
	Store store.Store
	Dir   string // e.g. "audit/entries"
}

func (j StoreJournal) name(seq int64) string {
	return fmt.Sprintf("%s/%020d", j.Dir, seq)
}

// Append implements Journal.
func (j StoreJournal) Append(ctx context.Context, seq int64, line []byte) error {
	if seq < 1 {
		return fmt.Errorf("audit: entry %d: seq starts at 1", seq)
	}
	return j.Store.Create(ctx, j.name(seq), strings.NewReader(string(line)))
}

// parse returns the seqs of the entry names names.
func (j StoreJournal) parse(names []string) ([]int64, error) {
	seqs := make([]int64, 0, len(names))
	for _, n := range names {
		seq, err := strconv.ParseInt(n, 10, 64)
		if err != nil || len(n) != 20 || seq < 1 {
			return nil, fmt.Errorf("audit: %s/%s is not a journal entry", j.Dir, n)
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// Entry implements EntryReader.
func (j StoreJournal) Entry(ctx context.Context, seq int64) ([]byte, error) {
	return store.ReadAll(ctx, j.Store, j.name(seq))
}

// lastPage is the length of journal that Last lists whole: an object
// store's listing page. Past it, Last searches.
const lastPage = 1000

// lastSpan is how many entries Last lists at the end of its search: a
// listing costs about as much as a read for a few dozen names, and more
// with each name after that.
const lastSpan = 64

// Last implements Journal without listing a long journal whole, which on
// an object store costs a request per 1,000 entries (and on MinIO ~0.1 s
// per 1,000 names), for every command that appends and every server that
// starts. A journal of up to lastPage entries is listed. Past that it
// searches for the end by reading entries: entries are numbered 1, 2, 3,
// ... with no gaps, so doubling the distance from entry lastPage+1 until
// an entry is missing, then halving the interval until it is lastSpan
// long, narrows the end down in about 2 log2(n/1000) reads. A listing from
// there then finds the end and confirms that nothing is stored after it:
// an entry removed from the middle, where the search may stop, does not
// hide the real end, and Last returns the highest seq stored, as a whole
// listing would.
func (j StoreJournal) Last(ctx context.Context) (int64, []byte, error) {
	var last int64
	var line []byte
	after := "" // a whole listing
	switch b, err := j.Entry(ctx, lastPage+1); {
	case err == nil:
		if last, line, err = j.search(ctx, lastPage+1, b); err != nil {
			return 0, nil, err
		}
		after = path.Base(j.name(last))
	case !errors.Is(err, fs.ErrNotExist):
		return 0, nil, err
	}
	rest, err := store.ListAfter(ctx, j.Store, j.Dir, after, 0)
	if err != nil {
		return 0, nil, err
	}
	if len(rest) > 0 {
		seqs, err := j.parse(rest)
		if err != nil {
			return 0, nil, err
		}
		last, line = seqs[len(seqs)-1], nil
	}
	if last == 0 {
		return 0, nil, nil
	}
	if line == nil {
		if line, err = j.Entry(ctx, last); err != nil {
			return 0, nil, err
		}
	}
	return last, line, nil
}

// search returns an entry at most lastSpan before the first missing one
// it finds after entry lo, whose line is loLine, and that entry's line.
func (j StoreJournal) search(ctx context.Context, lo int64, loLine []byte) (int64, []byte, error) {
	probe := func(seq int64) (bool, error) {
		b, err := j.Entry(ctx, seq)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		lo, loLine = seq, b
		return true, nil
	}
	// Gallop: lo exists; hi is the first probe that does not.
	var hi int64
	for step := lo; ; step = min(2*step, math.MaxInt64/2) {
		if step > math.MaxInt64-lo {
			hi = math.MaxInt64
			break
		}
		hi = lo + step
		ok, err := probe(hi)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			break
		}
	}
	for hi-lo > lastSpan {
		mid := lo + (hi-lo)/2
		ok, err := probe(mid)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			hi = mid
		}
	}
	return lo, loLine, nil
}

// Entries implements Journal. From past the start, it lists only the
// names after entry from-1 (store.ListAfter: on an object store, one
// request when nothing is new), so that a reader following the journal
// pays for what was appended, not for its length.
func (j StoreJournal) Entries(ctx context.Context, from int64, f func(int64, []byte) error) error {
	var names []string
	var err error
	if from > 1 {
		names, err = store.ListAfter(ctx, j.Store, j.Dir, fmt.Sprintf("%020d", from-1), 0)
	} else {
		names, err = j.Store.List(ctx, j.Dir)
	}
	if err != nil {
		return err
	}
	seqs, err := j.parse(names)
	if err != nil {
		return err
	}
	// Read ahead, a batch at a time and several entries at once (on an
	// object store each is a round trip), and hand them to f in order.
	// An entry that cannot be read ends the walk there, as a loop would:
	// f has seen every entry before it.
	const batch = 256
	lines := make([][]byte, batch)
	errs := make([]error, batch)
	read := make([]bool, batch)
	for len(seqs) > 0 {
		part := seqs[:min(batch, len(seqs))]
		seqs = seqs[len(part):]
		clear(read)
		clear(errs)
		err := store.EachLimit(ctx, store.ListWorkers(j.Store), len(part), func(ctx context.Context, i int) error {
			lines[i], errs[i] = store.ReadAll(ctx, j.Store, j.name(part[i]))
			read[i] = errs[i] == nil
			return errs[i]
		})
		for i, seq := range part {
			if !read[i] {
				// The first entry not read: its error, or (not begun
				// after an earlier failure, or cancelled) the batch's.
				return cmp.Or(errs[i], err)
			}
			if err := f(seq, lines[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxAppendTries bounds the appends of one entry that lose to other
// writers.
const maxAppendTries = 100

// AppendJournal appends e to j, chained onto the last entry: it sets
// e.Seq, e.Prev and, if zero, e.Time, and returns e as written. When
// another writer takes the seq first, it reads the new end and tries
// again.
func AppendJournal(ctx context.Context, j Journal, e Entry) (Entry, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Round(0)
	e.Detail = cloneDetail(e.Detail)
	for range maxAppendTries {
		seq, last, err := j.Last(ctx)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		e.Seq, e.Prev = seq+1, Genesis
		if last != nil {
			e.Prev = hashLine(last)
		}
		if err := e.check(); err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		line, err := encodeLine(e)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		err = j.Append(ctx, e.Seq, line)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		return e, nil
	}
	return Entry{}, fmt.Errorf("audit: append: entry %d taken by other writers %d times in a row", e.Seq, maxAppendTries)
}

// VerifyJournal checks the whole chain of j as Verify checks log.jsonl,
// and that every entry is stored under its own seq. It returns the
// number of entries.
func VerifyJournal(ctx context.Context, j Journal) (int, error) {
	pr, pw := io.Pipe()
	go func() {
		n := 0
		err := j.Entries(ctx, 1, func(seq int64, line []byte) error {
			n++
			// A line that does not parse is the chain check's to report.
			if e, err := ParseLine(line); err == nil && e.Seq != seq {
				return &ChainError{Line: n, Seq: int64(n), Reason: fmt.Sprintf("stored as entry %d but holds entry %d", seq, e.Seq)}
			}
			_, err := pw.Write(append(line, '\n'))
			return err
		})
		pw.CloseWithError(err)
	}()
	n, err := verify(pr, nil)
	pr.CloseWithError(errors.New("verification stopped"))
	return n, err
}
