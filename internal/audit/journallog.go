package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"
)

// OpenJournal returns a Log whose entries are kept in j rather than in a
// directory: the log of a store shared by several servers (StoreJournal
// in an object store). where names it in messages and is its Path.
//
// Such a Log appends with AppendJournal (a conditional create per entry,
// no lock), and has no head file: its head is its last entry (Head), and
// Verify checks the chain with VerifyJournal, so that removing entries
// from its end is seen only against a head written down earlier
// (VerifyHead on JournalReader). Begin reserves no room, there being no
// local disk to fill; a journal that cannot take an entry fails it, and
// the Log keeps outcomes and queued entries to write before its next one,
// as a Log in a directory does.
func OpenJournal(j Journal, where string) *Log {
	return &Log{journal: j, where: where, now: time.Now}
}

// appendJournal writes the queued entries, then e.
func (l *Log) appendJournal(ctx context.Context, e Entry) (Entry, error) {
	if err := l.flushJournalQueue(ctx); err != nil {
		return Entry{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendJournalLocked(ctx, e)
}

// An EntryReader is a Journal that can read one entry by its seq, so
// that a writer that knows the end of the journal can follow the few
// entries others added since without listing it all.
type EntryReader interface {
	// Entry returns the line of entry seq, or an error matching
	// fs.ErrNotExist if there is none.
	Entry(ctx context.Context, seq int64) ([]byte, error)
}

// maxFollow bounds the entries appendJournalLocked reads one by one to
// catch up with other writers before it looks for the end afresh.
const maxFollow = 8

// appendJournalLocked appends e after the last entry this Log knows
// (l.jseq, l.jline): the journal's conditional create refuses it if
// another writer took that seq, and then the Log reads the entries it
// missed (EntryReader) or, far behind, the journal's end (Last), and
// tries again. Entries never change, so what the Log knows of the end is
// only ever stale, never wrong: an append needs no listing unless
// another writer got far ahead. Called with l.mu held.
func (l *Log) appendJournalLocked(ctx context.Context, e Entry) (Entry, error) {
	e.Time = e.Time.UTC().Round(0)
	e.Detail = cloneDetail(e.Detail)
	er, canFollow := l.journal.(EntryReader)
	for range maxAppendTries {
		if !l.jknown {
			seq, line, err := l.journal.Last(ctx)
			if err != nil {
				return Entry{}, fmt.Errorf("audit: append: %w", err)
			}
			l.jseq, l.jline, l.jknown = seq, line, true
		}
		e.Seq, e.Prev = l.jseq+1, Genesis
		if l.jline != nil {
			e.Prev = hashLine(l.jline)
		}
		if err := e.check(); err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		line, err := encodeLine(e)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		err = l.journal.Append(ctx, e.Seq, line)
		if err == nil {
			l.jseq, l.jline = e.Seq, line
			return e, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return Entry{}, fmt.Errorf("audit: append: %w", err)
		}
		// Another writer took the seq: follow it.
		l.jknown = false
		if !canFollow {
			continue
		}
		for range maxFollow {
			next, err := er.Entry(ctx, l.jseq+1)
			if errors.Is(err, fs.ErrNotExist) {
				l.jknown = true // at the end again
				break
			}
			if err != nil {
				return Entry{}, fmt.Errorf("audit: append: %w", err)
			}
			l.jseq, l.jline = l.jseq+1, next
		}
	}
	return Entry{}, fmt.Errorf("audit: append: entry %d taken by other writers %d times in a row", e.Seq, maxAppendTries)
}

// flushJournalQueue writes the queued entries to the journal, keeping
// those it could not, as session.flushQueue does for the file.
func (l *Log) flushJournalQueue(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		e := Entry{Time: l.now().UTC().Round(0), Actor: ActorAudit, Action: ActionRecover, Result: ResultError,
			Detail: map[string]string{"reason": "entries lost while the log could not be written", "dropped": strconv.Itoa(l.dropped)}}
		if _, err := l.appendJournalLocked(ctx, e); err != nil {
			return err
		}
		l.dropped = 0
	}
	for len(l.queue) > 0 {
		if _, err := l.appendJournalLocked(ctx, l.queue[0]); err != nil {
			return err
		}
		l.queue = l.queue[1:]
	}
	return nil
}

// JournalHead returns the head of the journal j: its last entry's seq
// and the hash of its line; Head{0, Genesis} when it is empty.
func JournalHead(ctx context.Context, j Journal) (Head, error) {
	seq, line, err := j.Last(ctx)
	if err != nil {
		return Head{}, fmt.Errorf("audit: %w", err)
	}
	if line == nil {
		return Head{Seq: 0, Hash: Genesis}, nil
	}
	return Head{Seq: seq, Hash: hashLine(line)}, nil
}

// JournalReader returns the entries of j as the lines of a log.jsonl, for
// Read, Unconfirmed, Verify and VerifyHead. The caller closes it.
func JournalReader(ctx context.Context, j Journal) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		err := j.Entries(ctx, 1, func(_ int64, line []byte) error {
			_, err := pw.Write(append(line, '\n'))
			return err
		})
		pw.CloseWithError(err)
	}()
	return pr
}
