package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modferry/modferry/internal/digest"
	"github.com/modferry/modferry/internal/safefile"
)

// File names inside the log directory.
const (
	LogFile  = "log.jsonl"
	HeadFile = "head.json"
	LockFile = "lock"
)

// ErrTampered is wrapped by the error Append returns when the log no longer
// agrees with its head file: entries were removed from its end or its last
// entry was changed. Append refuses to extend such a log; an operator must
// look at it (Verify names the entry) and move it aside.
var ErrTampered = errors.New("audit log does not match its head")

// ErrNoSpace is wrapped by the errors of Begin, Append and Flush when the
// file system holding the log is full (ENOSPC, EDQUOT), or too full for
// Begin to reserve room for an outcome.
var ErrNoSpace = errors.New("no space left for the audit log")

// ErrReadOnly is wrapped by the errors of every write to a log in a
// read-only directory (read-only media, no write permission).
var ErrReadOnly = safefile.ErrReadOnly

// OutcomeRoom is the room Begin reserves on disk, beyond its intent's line,
// for the entry that will record the outcome: the largest line and its
// newline.
const OutcomeRoom = MaxLineSize + 1

// headRoom is what Begin wants free besides the log's own room: enough to
// replace the head file.
const headRoom = 16 << 10

// maxQueue bounds the entries kept in memory while the log cannot take
// them; later ones are counted and dropped.
const maxQueue = 1000

// A Log appends entries to the log in one directory. It is safe for
// concurrent use, and any number of Log values, in this process or others,
// may use the same directory at once.
type Log struct {
	dir  string
	lock *safefile.DirLock
	// journal, if not nil, keeps the entries instead of dir (OpenJournal);
	// where then names it.
	journal Journal
	where   string
	// The last entry of the journal this Log knows of (under mu): its
	// seq and line, if jknown.
	jseq   int64
	jline  []byte
	jknown bool
	now    func() time.Time // for tests
	ops    ops              // for tests

	mu      sync.Mutex
	queue   []Entry // entries not yet written, oldest first
	dropped int     // entries dropped because the queue was full
	open    int     // intents begun and not finished in this process
}

// ops are the file-system operations of a Log; tests replace them to
// inject failures.
type ops struct {
	openLog   func(path string) (logFile, error)
	avail     func(dir string) (int64, error) // bytes free; -1 if unknown
	reserve   func(f logFile, off, n int64) error
	writeHead func(path string, data []byte) error
}

// logFile is the log file as a Log uses it; *os.File implements it.
type logFile interface {
	io.ReaderAt
	io.Writer
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

var osOps = ops{
	openLog: func(path string) (logFile, error) {
		return os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	},
	avail:   availBytes,
	reserve: preallocate,
	writeHead: func(path string, data []byte) error {
		return safefile.WriteFile(path, data, 0o600)
	},
}

// Open opens the log in dir, creating dir (0700) and the lock file if they
// do not exist. It does not read the log. In a read-only directory it
// opens the log for reading only: Verify and Head work, and every write
// fails with an error wrapping ErrReadOnly.
func Open(dir string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil && !safefile.IsReadOnly(err) {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l, err := safefile.OpenDirLock(filepath.Join(dir, LockFile))
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{dir: dir, lock: l, now: time.Now, ops: osOps}, nil
}

// Close releases the lock file. The Log must not be used afterwards;
// entries still queued (see Queue) are lost.
func (l *Log) Close() error {
	if l.journal != nil {
		return nil
	}
	return l.lock.Close()
}

// Path returns the path of the log file, for reading with Read or Verify;
// for a log kept in a journal, the name OpenJournal was given.
func (l *Log) Path() string {
	if l.journal != nil {
		return l.where
	}
	return filepath.Join(l.dir, LogFile)
}

// ReadOnly reports whether the log's directory is read-only. A log kept in
// a journal never is: a journal that refuses writes fails them.
func (l *Log) ReadOnly() bool {
	if l.journal != nil {
		return false
	}
	return l.lock.ReadOnly()
}

// Append adds e to the end of the log and returns it as written, with Seq,
// Prev and Time set. It returns only once the line is on disk (fsync), so a
// caller that reports success after Append has its entry recorded. Entries
// queued earlier (Queue, or an outcome Finish could not write) are written
// first.
//
// Under the directory lock it reads the last line (seeking back from the
// end of the file), checks it against the head file, writes one line with
// O_APPEND, fsyncs, and then updates the head file. The head file may lag
// (if it cannot be replaced, the entry stands and the next append
// retries). The log is never rewritten, with one exception: a torn final
// line (no newline), left by a crash or a full disk in the middle of an
// append that therefore never returned, is cut off, and an ActionRecover
// entry, itself in the chain, records how many bytes were removed and
// their SHA-256.
//
// Append fails with an error wrapping ErrTampered if the log is behind its
// head file or its last entry no longer matches it, ErrNoSpace if the disk
// is full, ErrReadOnly if the directory is read-only.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	e, err := l.prepare(e)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	if l.journal != nil {
		return l.appendJournal(ctx, e)
	}
	var out Entry
	err = l.locked(ctx, func(s *session) error {
		if err := s.flushQueue(); err != nil {
			return err
		}
		out, err = s.write(e)
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	return out, nil
}

// prepare checks what the caller must set and fills in the time.
func (l *Log) prepare(e Entry) (Entry, error) {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Round(0)
	e.Detail = cloneDetail(e.Detail)
	switch {
	case e.Action == "":
		return Entry{}, errors.New("action is missing")
	case e.Actor == "":
		return Entry{}, errors.New("actor is missing")
	case e.Result == "":
		return Entry{}, errors.New("result is missing")
	}
	return e, nil
}

// locked runs fn on a session opened under the exclusive lock.
func (l *Log) locked(ctx context.Context, fn func(*session) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := l.lock.Lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := l.openSession()
	if err != nil {
		return noSpace(err)
	}
	err = fn(s)
	if cerr := s.close(); err == nil {
		err = cerr
	}
	return noSpace(err)
}

// noSpace wraps ErrNoSpace around err if err says the disk is full.
func noSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// Queue keeps e to be written before the next entry this Log appends,
// for records that must not be lost while the log cannot take them (the
// server's start, say). At most maxQueue entries are kept; the number
// dropped beyond that is recorded when the queue is written.
func (l *Log) Queue(e Entry) error {
	e, err := l.prepare(e)
	if err != nil {
		return fmt.Errorf("audit: queue: %w", err)
	}
	l.enqueue(e)
	return nil
}

func (l *Log) enqueue(e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) >= maxQueue {
		l.dropped++
		return
	}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail["audit.delayed"] = "true"
	l.queue = append(l.queue, e)
}

// Queued returns the number of entries waiting to be written.
func (l *Log) Queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// Flush writes the entries waiting in the queue, if any.
func (l *Log) Flush(ctx context.Context) error {
	if l.Queued() == 0 && !l.droppedAny() {
		return nil
	}
	if l.journal != nil {
		if err := l.flushJournalQueue(ctx); err != nil {
			return fmt.Errorf("audit: writing queued entries: %w", err)
		}
		return nil
	}
	if err := l.locked(ctx, func(s *session) error { return s.flushQueue() }); err != nil {
		return fmt.Errorf("audit: writing queued entries: %w", err)
	}
	return nil
}

func (l *Log) droppedAny() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped > 0
}

// An Intent is a state change recorded in the log before it is carried
// out. Finish records its outcome.
type Intent struct {
	l     *Log
	entry Entry
	once  sync.Once
}

// Entry returns the intent's entry as written.
func (i *Intent) Entry() Entry { return i.entry }

// Begin is the first half of write-ahead auditing: it records that the
// operation e describes is about to be carried out, as an entry with
// Result ResultPending, and reserves room on disk for the entry recording
// its outcome. Only if Begin succeeds may the caller carry the operation
// out, and then call Finish, whatever happened.
//
// Begin fails, writing nothing, if the log's file system has less free
// space than the intent, OutcomeRoom for every intent open in this
// process, and room for the head file (an error wrapping ErrNoSpace), and
// for every reason Append fails. e.Result is ignored.
func (l *Log) Begin(ctx context.Context, e Entry) (*Intent, error) {
	e.Result = ResultPending
	e, err := l.prepare(e)
	if err != nil {
		return nil, fmt.Errorf("audit: begin: %w", err)
	}
	var out Entry
	if l.journal != nil {
		// An object store has no disk of ours to fill: nothing to reserve.
		out, err = l.appendJournal(ctx, e)
	} else {
		err = l.locked(ctx, func(s *session) error { return l.beginLocked(s, e, &out) })
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &Intent{l: l, entry: out}, nil
}

// beginLocked writes the intent e in the session s, reserving room for
// its outcome, and sets *out to the entry written.
func (l *Log) beginLocked(s *session, e Entry, out *Entry) error {
	if err := s.flushQueue(); err != nil {
		return err
	}
	e.Seq, e.Prev = s.seq+1, s.prev
	line, err := encodeLine(e)
	if err != nil {
		return err
	}
	l.mu.Lock()
	open := int64(l.open)
	l.mu.Unlock()
	room := int64(len(line)) + 1 + OutcomeRoom*(open+1)
	if err := s.ensure(room + headRoom); err != nil {
		return err
	}
	if err := l.ops.reserve(s.f, s.size, room); err != nil {
		return fmt.Errorf("reserving %d bytes in %s: %w", room, LogFile, err)
	}
	*out, err = s.write(e)
	return err
}

// An UnconfirmedError reports an outcome that Finish could not write: the
// log holds the intent (entry Intent) but not yet its outcome, which the
// Log keeps and writes before its next entry.
type UnconfirmedError struct {
	Intent int64 // seq of the intent entry
	Err    error
}

func (e *UnconfirmedError) Error() string {
	return fmt.Sprintf("the audit log holds its intent (entry %d) but could not record the outcome: %v", e.Intent, e.Err)
}

func (e *UnconfirmedError) Unwrap() error { return e.Err }

// Finish records the outcome of the intent: an entry with the intent's
// actor, action and target, the given result, the intent's detail with
// detail added, and Detail "intent" holding the intent's seq. It ignores
// ctx's cancellation (an outcome must be written) but not its values.
//
// If the entry cannot be written, Finish keeps it to be written before the
// next entry this Log appends and returns an *UnconfirmedError. Calls
// after the first do nothing.
func (i *Intent) Finish(ctx context.Context, result string, detail map[string]string) (Entry, error) {
	var out Entry
	err := errors.New("audit: intent finished twice")
	i.once.Do(func() {
		i.l.mu.Lock()
		i.l.open--
		i.l.mu.Unlock()
		d := cloneDetail(i.entry.Detail)
		if d == nil {
			d = map[string]string{}
		}
		for k, v := range detail {
			d[k] = v
		}
		d["intent"] = strconv.FormatInt(i.entry.Seq, 10)
		e := Entry{Time: i.l.now(), Actor: i.entry.Actor, Action: i.entry.Action, Target: i.entry.Target, Result: result, Detail: d}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		out, err = i.l.Append(ctx, e)
		if err != nil {
			if e, perr := i.l.prepare(e); perr == nil {
				i.l.enqueue(e)
			}
			err = &UnconfirmedError{Intent: i.entry.Seq, Err: err}
		}
	})
	return out, err
}

// A Head names the newest entry of a log: its seq and the hex SHA-256 of
// its line. Its String form, "SEQ:HASH", is short enough to write down
// outside the system as an anchor for VerifyHead.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func (h Head) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash }

// ParseHead parses the String form of a Head.
func ParseHead(s string) (Head, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 0 || !digest.IsHex(hash) || n == 0 && hash != Genesis {
		return Head{}, fmt.Errorf("audit: invalid head %q: want SEQ:SHA256HEX", s)
	}
	return Head{Seq: n, Hash: hash}, nil
}

// Head returns the head recorded in the head file: the seq and hash of the
// newest entry. An empty log has Head{0, Genesis}.
func (l *Log) Head(ctx context.Context) (Head, error) {
	if l.journal != nil {
		return JournalHead(ctx, l.journal)
	}
	unlock, err := l.lock.Lock(ctx, false)
	if err != nil {
		return Head{}, fmt.Errorf("audit: %w", err)
	}
	defer unlock()
	return l.readHead()
}

func (l *Log) readHead() (Head, error) {
	path := filepath.Join(l.dir, HeadFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Head{Seq: 0, Hash: Genesis}, nil
	}
	if err != nil {
		return Head{}, err
	}
	var h Head
	if err := json.Unmarshal(b, &h); err != nil || h.Seq < 0 || !digest.IsHex(h.Hash) {
		return Head{}, fmt.Errorf("%w: %s is not valid", ErrTampered, path)
	}
	return h, nil
}

// Verify checks the whole log in the directory against its head file, as
// VerifyHead does, holding a shared lock so that no append is half-written
// while it reads. It returns the number of entries. A torn final line is
// reported as a *TornError after the entries before it checked out.
func (l *Log) Verify(ctx context.Context) (int, error) {
	if l.journal != nil {
		return VerifyJournal(ctx, l.journal)
	}
	unlock, err := l.lock.Lock(ctx, false)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	defer unlock()
	head, err := l.readHead()
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	f, err := os.Open(l.Path())
	if errors.Is(err, fs.ErrNotExist) {
		// No log: fine if the head is empty too, else everything was removed.
		return VerifyHead(strings.NewReader(""), head)
	}
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return VerifyHead(f, head)
}

// A session is one locked look at the end of the log and the appends made
// under that lock.
type session struct {
	l       *Log
	f       logFile
	size    int64  // where the next line goes
	seq     int64  // seq of the last entry, 0 if none
	prev    string // hash of the last line, Genesis if none
	created bool   // the file was empty
	wrote   bool
}

// openSession opens the log file, checks its end against the head file,
// and repairs a torn final line.
func (l *Log) openSession() (s *session, err error) {
	path := l.Path()
	f, err := l.ops.openLog(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t, err := readTail(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("reading the end of %s: %w", path, err)
	}
	head, err := l.readHead()
	if err != nil {
		return nil, err
	}
	s = &session{l: l, f: f, size: t.end, seq: 0, prev: Genesis, created: fi.Size() == 0}
	if t.last != nil {
		last, err := ParseLine(t.last)
		if err != nil {
			return nil, fmt.Errorf("%w: last entry of %s is unreadable: %v", ErrTampered, path, err)
		}
		s.seq, s.prev = last.Seq, hashLine(t.last)
	}
	switch {
	case head.Seq > s.seq:
		return nil, fmt.Errorf("%w: %s ends at seq %d but %s records seq %d: entries were removed from the end",
			ErrTampered, LogFile, s.seq, HeadFile, head.Seq)
	case head.Seq == s.seq && head.Seq > 0 && head.Hash != s.prev:
		return nil, fmt.Errorf("%w: entry %d of %s does not have the hash %s records: it was changed",
			ErrTampered, s.seq, LogFile, HeadFile)
	}
	if t.size > t.end {
		if err := s.cutTorn(head, t.size); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// cutTorn removes a torn final line, which only an append that never
// returned leaves (a crash, a full disk), and records the removal in an
// ActionRecover entry. The head file must vouch for the complete lines
// before it: if it lags behind them, they are verified against it first.
func (s *session) cutTorn(head Head, size int64) error {
	path := s.l.Path()
	if head.Seq < s.seq {
		if _, err := VerifyHead(io.NewSectionReader(s.f, 0, s.size), head); err != nil {
			return fmt.Errorf("%w: %s ends with an incomplete line, and the entries before it fail verification: %v", ErrTampered, LogFile, err)
		}
	}
	if err := s.ensure(4<<10 + headRoom); err != nil {
		return err
	}
	frag := io.NewSectionReader(s.f, s.size, size-s.size)
	h := sha256.New()
	if _, err := io.Copy(h, frag); err != nil {
		return fmt.Errorf("reading the incomplete last line of %s: %w", path, err)
	}
	prefix := make([]byte, min(size-s.size, 128))
	if _, err := frag.ReadAt(prefix, 0); err != nil && err != io.EOF {
		return err
	}
	if err := s.f.Truncate(s.size); err != nil {
		return fmt.Errorf("cutting the incomplete last line of %s: %w", path, err)
	}
	_, err := s.write(Entry{
		Time: s.l.now().UTC().Round(0), Actor: ActorAudit, Action: ActionRecover, Result: ResultOK,
		Detail: map[string]string{
			"reason":     "incomplete last line cut off: an append interrupted by a crash or a full disk, never acknowledged",
			"tornBytes":  strconv.FormatInt(size-s.size, 10),
			"tornSHA256": hex.EncodeToString(h.Sum(nil)),
			"tornStart":  strings.ToValidUTF8(string(prefix), "?"),
		},
	})
	return err
}

// ensure fails with ErrNoSpace if the file system has fewer than n bytes
// free.
func (s *session) ensure(n int64) error {
	avail, err := s.l.ops.avail(s.l.dir)
	if err != nil {
		return fmt.Errorf("checking free space: %w", err)
	}
	if avail >= 0 && avail < n {
		return fmt.Errorf("%w in %s: %d bytes free, %d needed", ErrNoSpace, s.l.dir, avail, n)
	}
	return nil
}

// write appends one entry, setting its Seq and Prev, and syncs it. A
// failed write is cut off again where possible, so that it does not leave
// a torn line.
func (s *session) write(e Entry) (Entry, error) {
	e.Seq, e.Prev = s.seq+1, s.prev
	line, err := encodeLine(e)
	if err != nil {
		return Entry{}, err
	}
	n, err := s.f.Write(append(line, '\n'))
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		if n > 0 {
			_ = s.f.Truncate(s.size) // else the next session cuts it
		}
		return Entry{}, err
	}
	s.size += int64(len(line)) + 1
	s.seq, s.prev, s.wrote = e.Seq, hashLine(line), true
	return e, nil
}

// flushQueue writes the queued entries, keeping those it could not.
func (s *session) flushQueue() error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		e := Entry{Time: l.now().UTC().Round(0), Actor: ActorAudit, Action: ActionRecover, Result: ResultError,
			Detail: map[string]string{"reason": "entries lost while the log could not be written", "dropped": strconv.Itoa(l.dropped)}}
		if _, err := s.write(e); err != nil {
			return err
		}
		l.dropped = 0
	}
	for len(l.queue) > 0 {
		if _, err := s.write(l.queue[0]); err != nil {
			return err
		}
		l.queue = l.queue[1:]
	}
	return nil
}

// close makes the session's appends durable in the directory, updates the
// head file, and closes the log file. A head file that cannot be replaced
// is left behind: the entries stand, and the next session retries.
func (s *session) close() error {
	defer s.f.Close()
	if !s.wrote {
		return nil
	}
	if s.created {
		if err := safefile.SyncDir(s.l.dir); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(Head{Seq: s.seq, Hash: s.prev})
	_ = s.l.ops.writeHead(filepath.Join(s.l.dir, HeadFile), append(b, '\n'))
	return nil
}
