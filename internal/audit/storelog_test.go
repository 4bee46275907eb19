package audit_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store"
)

// next runs fl.Next and returns the targets of the lines it saw.
func next(t *testing.T, fl *audit.Follower) ([]string, bool) {
	t.Helper()
	var got []string
	restarted, err := fl.Next(context.Background(), func(line []byte) {
		e, err := audit.ParseLine(line)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, e.Target)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, restarted
}

func appendTo(t *testing.T, l *audit.Log, targets ...string) {
	t.Helper()
	for _, tg := range targets {
		if _, err := l.Append(context.Background(), audit.Entry{Actor: "t", Action: audit.ActionPublish, Target: tg, Result: audit.ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFollowerFile follows the log file of a local store: each Next sees
// only the lines appended since, not a line being appended, and the
// whole log again (restarted) when the file was cut shorter.
func TestFollowerFile(t *testing.T) {
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(filepath.Join(d.Root(), audit.StoreDir))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fl := audit.NewFollower(d)
	if got, _ := next(t, fl); len(got) != 0 {
		t.Fatalf("empty log: %v", got)
	}
	appendTo(t, l, "a", "b")
	if got, r := next(t, fl); !slices.Equal(got, []string{"a", "b"}) || r {
		t.Fatalf("first read: %v (restarted %v)", got, r)
	}
	appendTo(t, l, "c")
	if got, _ := next(t, fl); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("after an append: %v, want [c]", got)
	}
	if got, _ := next(t, fl); len(got) != 0 {
		t.Fatalf("nothing new: %v", got)
	}
	// An append in progress (no newline yet) is left for later.
	path := filepath.Join(d.Root(), audit.StoreDir, audit.LogFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":4,"time":"2026-`)
	f.Close()
	if got, _ := next(t, fl); len(got) != 0 {
		t.Fatalf("a torn line was read: %v", got)
	}
	// Cut shorter than what was read: the whole log again.
	if err := os.WriteFile(path, []byte(lines[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, r := next(t, fl); !slices.Equal(got, []string{"a"}) || !r {
		t.Fatalf("after a cut: %v (restarted %v), want [a] restarted", got, r)
	}
}

// failLister fails the listing of one directory while err is set.
type failLister struct {
	store.Store
	dir string
	err error
}

func (f *failLister) List(ctx context.Context, dir string) ([]string, error) {
	if dir == f.dir && f.err != nil {
		return nil, f.err
	}
	return f.Store.List(ctx, dir)
}

func (f *failLister) ListAfter(ctx context.Context, dir, after string, limit int) ([]string, error) {
	if dir == f.dir && f.err != nil {
		return nil, f.err
	}
	return store.ListAfter(ctx, f.Store, dir, after, limit)
}

// TestFollowerJournal follows the journal of a store that is not local:
// each Next lists only the names after the last entry read, and a Next
// that fails leaves the Follower where it was.
func TestFollowerJournal(t *testing.T) {
	mem := store.NewMem()
	c := &listCounter{Store: mem}
	l := audit.OpenJournal(audit.JournalIn(mem), "mem")
	fl := audit.NewFollower(c)
	appendTo(t, l, "a", "b", "c")
	if got, _ := next(t, fl); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first read: %v", got)
	}
	appendTo(t, l, "d")
	c.listed = 0
	if got, _ := next(t, fl); !slices.Equal(got, []string{"d"}) || c.listed != 1 {
		t.Fatalf("after an append: %v, %d names listed; want [d], 1", got, c.listed)
	}
	c.listed = 0
	if got, _ := next(t, fl); len(got) != 0 || c.listed != 0 {
		t.Fatalf("nothing new: %v, %d names listed", got, c.listed)
	}

	// A failing listing: an error, and the same lines next time.
	fails := &failLister{Store: mem, dir: audit.StoreJournalDir}
	fl = audit.NewFollower(fails)
	if got, _ := next(t, fl); len(got) != 4 {
		t.Fatalf("a new Follower: %v", got)
	}
	appendTo(t, l, "e")
	// A log file too (a store copied from a local one, say), read
	// before the journal: the failure comes after f saw its line.
	first, err := audit.JournalIn(mem).Entry(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Put(context.Background(), audit.StoreDir+"/"+audit.LogFile, strings.NewReader(string(first)+"\n")); err != nil {
		t.Fatal(err)
	}
	fails.err = errors.New("endpoint down")
	var seen int
	if _, err := fl.Next(context.Background(), func([]byte) { seen++ }); !errors.Is(err, fails.err) || seen != 1 {
		t.Fatalf("Next on a failing store: %v after %d lines, want the error after 1", err, seen)
	}
	fails.err = nil
	if got, _ := next(t, fl); !slices.Equal(got, []string{"a", "e"}) {
		t.Fatalf("after the failure: %v, want [a e]", got)
	}
	// A journal this process may not read has nothing to say, as a log
	// file it may not read.
	fails.err = os.ErrPermission
	if got, _ := next(t, audit.NewFollower(fails)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("journal denied: %v, want only the file's [a]", got)
	}
}

// deniedLog is a store where the audit log file may not be read.
type deniedLog struct{ store.Store }

func (d deniedLog) Open(ctx context.Context, name string) (store.File, error) {
	if name == audit.StoreDir+"/"+audit.LogFile {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.Store.Open(ctx, name)
}

// TestFollowerStrict: a strict Follower (prune's) fails where a lenient
// one sees no lines: a log file or a journal it may not read, and a rest
// of the file too long to be a line.
func TestFollowerStrict(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMem()
	l := audit.OpenJournal(audit.JournalIn(mem), "mem")
	appendTo(t, l, "a")
	if err := mem.Put(ctx, audit.StoreDir+"/"+audit.LogFile, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	fails := &failLister{Store: deniedLog{mem}, dir: audit.StoreJournalDir}
	lenient := audit.NewFollower(fails)
	if got, _ := next(t, lenient); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("lenient, file denied: %v", got)
	}
	strict := audit.NewFollower(fails)
	strict.Strict = true
	if _, err := strict.Next(ctx, func([]byte) {}); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("strict, file denied: %v", err)
	}
	fails.Store = mem
	fails.err = os.ErrPermission
	if _, err := strict.Next(ctx, func([]byte) {}); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("strict, journal denied: %v", err)
	}
	fails.err = nil
	if err := mem.Put(ctx, audit.StoreDir+"/"+audit.LogFile, strings.NewReader(strings.Repeat("x", audit.MaxLineSize+2))); err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Next(ctx, func([]byte) {}); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("strict, an overlong line: %v", err)
	}
	if got, _ := next(t, audit.NewFollower(mem)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("lenient, an overlong line: %v", got)
	}
}
