package audit

import (
	"context"
	"fmt"
	"io"
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
	return AppendJournal(ctx, l.journal, e)
}

// flushJournalQueue writes the queued entries to the journal, keeping
// those it could not, as session.flushQueue does for the file.
func (l *Log) flushJournalQueue(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		e := Entry{Time: l.now().UTC().Round(0), Actor: ActorAudit, Action: ActionRecover, Result: ResultError,
			Detail: map[string]string{"reason": "entries lost while the log could not be written", "dropped": strconv.Itoa(l.dropped)}}
		if _, err := AppendJournal(ctx, l.journal, e); err != nil {
			return err
		}
		l.dropped = 0
	}
	for len(l.queue) > 0 {
		if _, err := AppendJournal(ctx, l.journal, l.queue[0]); err != nil {
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
