package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

// faults makes a Log's file system misbehave as a full disk does.
type faults struct {
	budget       int   // bytes writes to the log may still add; < 0: no limit
	noTruncate   bool  // Truncate fails too, as if the process had crashed
	avail        int64 // free bytes reported; < 0: the real figure
	reserveErr   error
	headErr      error
	writes, cuts int
}

func (fs *faults) install(l *Log) {
	real := l.ops
	l.ops = ops{
		openLog: func(path string) (logFile, error) {
			f, err := real.openLog(path)
			if err != nil {
				return nil, err
			}
			return &faultyFile{File: f.(*os.File), fs: fs}, nil
		},
		avail: func(dir string) (int64, error) {
			if fs.avail >= 0 {
				return fs.avail, nil
			}
			return real.avail(dir)
		},
		reserve: func(f logFile, off, n int64) error {
			if fs.reserveErr != nil {
				return fs.reserveErr
			}
			return real.reserve(f.(*faultyFile).File, off, n)
		},
		writeHead: func(path string, data []byte) error {
			if fs.headErr != nil {
				return fs.headErr
			}
			return real.writeHead(path, data)
		},
	}
}

type faultyFile struct {
	*os.File
	fs *faults
}

func (f *faultyFile) Write(p []byte) (int, error) {
	f.fs.writes++
	if b := f.fs.budget; b >= 0 && len(p) > b {
		n, _ := f.File.Write(p[:b])
		f.fs.budget = 0
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	if f.fs.budget >= 0 {
		f.fs.budget -= len(p)
	}
	return f.File.Write(p)
}

func (f *faultyFile) Truncate(size int64) error {
	if f.fs.noTruncate {
		return syscall.EIO
	}
	f.fs.cuts++
	return f.File.Truncate(size)
}

func healthy() *faults { return &faults{budget: -1, avail: -1} }

func readLog(t *testing.T, l *Log) []byte {
	t.Helper()
	b, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unconfirmed(t *testing.T, l *Log) []Entry {
	t.Helper()
	es, err := Unconfirmed(bytes.NewReader(readLog(t, l)))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

var publishX = Entry{Actor: "token:ci", Action: ActionPublish, Target: "corp.example/x@v1.0.0"}

// TestBeginRefusesWhenFull: with too little free space, or a reservation
// that fails, Begin writes nothing and says the disk is full.
func TestBeginRefusesWhenFull(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, t.TempDir())
	appendN(t, l, 2)
	before := readLog(t, l)
	fs := healthy()
	fs.install(l)

	fs.avail = OutcomeRoom // not enough for the intent, its outcome and the head
	if _, err := l.Begin(ctx, publishX); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Begin on a nearly full disk: %v", err)
	}
	fs.avail, fs.reserveErr = -1, syscall.ENOSPC
	if _, err := l.Begin(ctx, publishX); !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Begin with a failing reservation: %v", err)
	}
	fs.reserveErr, fs.budget = nil, 10
	if _, err := l.Begin(ctx, publishX); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Begin with a failing write: %v", err)
	}
	if after := readLog(t, l); !bytes.Equal(before, after) {
		t.Fatalf("a refused Begin changed the log:\n%s", after)
	}
	if fs.cuts != 1 {
		t.Errorf("the partial write was cut %d times, want 1", fs.cuts)
	}

	fs.budget = -1
	in, err := l.Begin(ctx, publishX)
	if err != nil {
		t.Fatal(err)
	}
	if in.Entry().Seq != 3 || in.Entry().Result != ResultPending {
		t.Errorf("intent = %+v", in.Entry())
	}
	out, err := in.Finish(ctx, ResultOK, map[string]string{"h1": "h1:x"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Seq != 4 || out.Result != ResultOK || out.Detail["intent"] != "3" || out.Detail["h1"] != "h1:x" || out.Target != publishX.Target {
		t.Errorf("outcome = %+v", out)
	}
	if _, err := in.Finish(ctx, ResultOK, nil); err == nil {
		t.Error("a second Finish succeeded")
	}
	if n, err := l.Verify(ctx); n != 4 || err != nil {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	if u := unconfirmed(t, l); len(u) != 0 {
		t.Errorf("unconfirmed intents: %+v", u)
	}
}

// TestFullDiskTornLine is the full-disk sequence that used to break the log
// for good: the head file cannot be replaced (it lags), then an append
// stops half-way and cannot be cut back. Verify calls that torn, not
// tampered; once space is back the next append cuts the line off, records
// the recovery in the chain, and the log verifies.
func TestFullDiskTornLine(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, t.TempDir())
	appendN(t, l, 3)
	fs := healthy()
	fs.install(l)

	fs.headErr = syscall.ENOSPC
	if _, err := l.Append(ctx, Entry{Actor: "a", Action: ActionDelete, Target: "m@v1", Result: ResultOK}); err != nil {
		t.Fatalf("Append with a head file that cannot be replaced: %v", err)
	}
	if h, _ := l.Head(ctx); h.Seq != 3 {
		t.Fatalf("head = %v, want it to lag at 3", h)
	}
	fs.budget, fs.noTruncate = 40, true
	if _, err := l.Append(ctx, Entry{Actor: "a", Action: ActionTokenAdd, Target: "t", Result: ResultOK}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Append on a full disk: %v", err)
	}
	var te *TornError
	if n, err := l.Verify(ctx); !errors.As(err, &te) || te.Line != 5 || te.Bytes != 40 || n != 4 {
		t.Fatalf("Verify of the torn log = %d, %v; want a TornError at line 5", n, err)
	}

	// Still full: nothing is cut while the recovery entry has no room.
	fs.budget, fs.noTruncate, fs.avail = -1, false, 0
	if _, err := l.Append(ctx, Entry{Actor: "a", Action: ActionTokenAdd, Target: "t", Result: ResultOK}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Append on a full disk: %v", err)
	}
	if fs.cuts != 0 {
		t.Fatal("the torn line was cut with no room to record it")
	}

	*fs = *healthy()
	e, err := l.Append(ctx, Entry{Actor: "a", Action: ActionTokenAdd, Target: "t", Result: ResultOK})
	if err != nil {
		t.Fatalf("Append once space is back: %v", err)
	}
	if e.Seq != 6 {
		t.Errorf("entry after the recovery has seq %d, want 6", e.Seq)
	}
	if n, err := l.Verify(ctx); n != 6 || err != nil {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	if h, _ := l.Head(ctx); h.Seq != 6 {
		t.Errorf("head = %v, want 6", h)
	}
	rec, _ := Read(bytes.NewReader(readLog(t, l)), Filter{Action: ActionRecover})
	if len(rec) != 1 || rec[0].Seq != 5 || rec[0].Detail["tornBytes"] != "40" || !strings.HasPrefix(rec[0].Detail["tornStart"], `{"seq":5,`) {
		t.Fatalf("recovery entries: %+v", rec)
	}
}

// TestTornLineAfterForgedEntries: a torn line is cut only when the lines
// before it agree with the head file, so a torn tail cannot launder
// entries forged after the last one the head records.
func TestTornLineAfterForgedEntries(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, t.TempDir())
	appendN(t, l, 3)
	data := readLog(t, l)
	lines := bytes.SplitAfter(data, []byte("\n"))
	// Line 3 replaced by a re-chained forgery (the head still names the
	// real line 3), then a torn fragment.
	var forged bytes.Buffer
	forged.Write(bytes.Join(lines[:2], nil))
	forged.Write(bytes.Replace(lines[2], []byte("v1.0.2"), []byte("v6.6.6"), 1))
	os.WriteFile(l.Path(), append(forged.Bytes(), `{"seq":4`...), 0o600)
	if _, err := l.Append(ctx, Entry{Actor: "a", Action: ActionImport, Result: ResultOK}); !errors.Is(err, ErrTampered) {
		t.Fatalf("Append: %v", err)
	}
}

// TestFinishQueuesOutcome: when the outcome of a change cannot be written,
// Finish says so exactly, the intent stays in the log as unconfirmed, and
// the outcome is written before the next entry once the disk has room.
func TestFinishQueuesOutcome(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, t.TempDir())
	fs := healthy()
	fs.install(l)
	in, err := l.Begin(ctx, publishX)
	if err != nil {
		t.Fatal(err)
	}
	fs.budget = 0
	_, err = in.Finish(ctx, ResultOK, nil)
	var ue *UnconfirmedError
	if !errors.As(err, &ue) || ue.Intent != 1 || !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Finish on a full disk: %v", err)
	}
	if u := unconfirmed(t, l); len(u) != 1 || u[0].Seq != 1 {
		t.Fatalf("unconfirmed = %+v", u)
	}
	if l.Queued() != 1 {
		t.Fatalf("queued = %d", l.Queued())
	}
	// Still full: the next Begin fails, the outcome stays queued.
	if _, err := l.Begin(ctx, publishX); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Begin: %v", err)
	}
	fs.budget = -1
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	es, _ := Read(bytes.NewReader(readLog(t, l)), Filter{})
	if len(es) != 2 || es[1].Result != ResultOK || es[1].Detail["intent"] != "1" || es[1].Detail["audit.delayed"] != "true" {
		t.Fatalf("entries = %+v", es)
	}
	if u := unconfirmed(t, l); len(u) != 0 {
		t.Fatalf("unconfirmed = %+v", u)
	}
	if l.Queued() != 0 {
		t.Fatalf("queued = %d", l.Queued())
	}
}

// TestQueueDrops: a queue that outgrows its bound records how many
// entries were lost.
func TestQueueDrops(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, t.TempDir())
	for i := 0; i < maxQueue+5; i++ {
		if err := l.Queue(Entry{Actor: "server", Action: ActionAuthFailure, Result: ResultDenied}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(ctx, Entry{Actor: "server", Action: ActionServerStop, Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
	es, _ := Read(bytes.NewReader(readLog(t, l)), Filter{})
	if len(es) != maxQueue+2 || es[0].Action != ActionRecover || es[0].Detail["dropped"] != "5" || es[len(es)-1].Action != ActionServerStop {
		t.Fatalf("%d entries, first %+v", len(es), es[0])
	}
}
