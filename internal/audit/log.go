package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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

// A Log appends entries to the log in one directory. It is safe for
// concurrent use, and any number of Log values, in this process or others,
// may use the same directory at once.
type Log struct {
	dir  string
	lock *dirLock
	now  func() time.Time // for tests
}

// Open opens the log in dir, creating dir (0700) and the lock file if they
// do not exist. It does not read the log.
func Open(dir string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l, err := openDirLock(filepath.Join(dir, LockFile))
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{dir: dir, lock: l, now: time.Now}, nil
}

// Close releases the lock file. The Log must not be used afterwards.
func (l *Log) Close() error { return l.lock.Close() }

// Path returns the path of the log file, for reading with Read or Verify.
func (l *Log) Path() string { return filepath.Join(l.dir, LogFile) }

// Append adds e to the end of the log and returns it as written, with Seq,
// Prev and Time set. It returns only once the line is on disk (fsync), so a
// caller that reports success after Append has its entry recorded.
//
// Under the directory lock it reads the last line (seeking back from the
// end of the file), checks it against the head file, writes one line with
// O_APPEND, fsyncs, and then updates the head file. It never rewrites the
// log, with one exception: if a crash left a torn final line (no newline)
// after the entry the head file records, that fragment was never
// acknowledged and is cut off before appending; the new entry then carries
// Detail "audit.torn_bytes" saying how many bytes were removed.
//
// Append fails with an error wrapping ErrTampered if the log is behind its
// head file or its last entry no longer matches it.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Round(0)
	e.Detail = cloneDetail(e.Detail)
	switch {
	case e.Action == "":
		return Entry{}, errors.New("audit: append: action is missing")
	case e.Actor == "":
		return Entry{}, errors.New("audit: append: actor is missing")
	case e.Result == "":
		return Entry{}, errors.New("audit: append: result is missing")
	}
	unlock, err := l.lock.Lock(ctx, true)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	defer unlock()
	e, err = l.appendLocked(e)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	return e, nil
}

func (l *Log) appendLocked(e Entry) (Entry, error) {
	path := l.Path()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, err
	}
	created := fi.Size() == 0
	t, err := readTail(f, fi.Size())
	if err != nil {
		return Entry{}, fmt.Errorf("reading the end of %s: %w", path, err)
	}
	head, err := l.readHead()
	if err != nil {
		return Entry{}, err
	}

	e.Seq, e.Prev = 1, Genesis
	if t.last != nil {
		last, err := parseLine(t.last)
		if err != nil {
			return Entry{}, fmt.Errorf("%w: last entry of %s is unreadable: %v", ErrTampered, path, err)
		}
		e.Seq, e.Prev = last.Seq+1, hashLine(t.last)
	}
	lastSeq := e.Seq - 1
	switch {
	case head.Seq > lastSeq:
		return Entry{}, fmt.Errorf("%w: %s ends at seq %d but %s records seq %d: entries were removed from the end",
			ErrTampered, LogFile, lastSeq, HeadFile, head.Seq)
	case head.Seq == lastSeq && head.Seq > 0 && head.Hash != e.Prev:
		return Entry{}, fmt.Errorf("%w: entry %d of %s does not have the hash %s records: it was changed",
			ErrTampered, lastSeq, LogFile, HeadFile)
	}

	if t.size > t.end {
		// A torn final line. Only a crash during an append leaves one, and
		// that append never returned: its entry was not acknowledged. Cut it
		// off if, and only if, the head file vouches for the line before it.
		if head.Seq != lastSeq || head.Hash != e.Prev && lastSeq > 0 {
			return Entry{}, fmt.Errorf("%w: %s ends with an incomplete line that follows an unrecorded entry", ErrTampered, LogFile)
		}
		if err := f.Truncate(t.end); err != nil {
			return Entry{}, err
		}
		if e.Detail == nil {
			e.Detail = map[string]string{}
		}
		e.Detail["audit.torn_bytes"] = strconv.FormatInt(t.size-t.end, 10)
	}

	line, err := encodeLine(e)
	if err != nil {
		return Entry{}, err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return Entry{}, err
	}
	if err := f.Sync(); err != nil {
		return Entry{}, err
	}
	if created {
		if err := syncDir(l.dir); err != nil {
			return Entry{}, err
		}
	}
	if err := l.writeHead(Head{Seq: e.Seq, Hash: hashLine(line)}); err != nil {
		// The entry is durable; only the head lags, which Verify and the
		// next Append tolerate. Still report it: the disk is in trouble.
		return Entry{}, fmt.Errorf("entry %d written, but updating %s: %w", e.Seq, HeadFile, err)
	}
	return e, nil
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
	if !ok || err != nil || n < 0 || !isHash(hash) || n == 0 && hash != Genesis {
		return Head{}, fmt.Errorf("audit: invalid head %q: want SEQ:SHA256HEX", s)
	}
	return Head{Seq: n, Hash: hash}, nil
}

// Head returns the head recorded in the head file: the seq and hash of the
// newest entry. An empty log has Head{0, Genesis}.
func (l *Log) Head(ctx context.Context) (Head, error) {
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
	if err := json.Unmarshal(b, &h); err != nil || h.Seq < 0 || !isHash(h.Hash) {
		return Head{}, fmt.Errorf("%w: %s is not valid", ErrTampered, path)
	}
	return h, nil
}

func (l *Log) writeHead(h Head) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.dir, HeadFile), append(b, '\n'))
}

// Verify checks the whole log in the directory against its head file, as
// VerifyHead does, holding a shared lock so that no append is half-written
// while it reads. It returns the number of entries.
func (l *Log) Verify(ctx context.Context) (int, error) {
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
