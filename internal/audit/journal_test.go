package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"testing"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store"
)

func newJournal(t *testing.T) (audit.StoreJournal, *store.Disk) {
	t.Helper()
	d, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Only the Store interface: the journal must need nothing more.
	return audit.StoreJournal{Store: struct{ store.Store }{d}, Dir: "audit/entries"}, d
}

// TestJournalConcurrentAppends has several writers append to one journal
// at once, each as another server would (no lock between them): every
// entry lands exactly once, seqs run 1..N with no gap, and the chain
// verifies.
func TestJournalConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	j, _ := newJournal(t)
	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := audit.AppendJournal(ctx, j, audit.Entry{Actor: fmt.Sprintf("server:%d", w), Action: audit.ActionImport, Target: fmt.Sprint(i), Result: audit.ResultOK})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, err := audit.VerifyJournal(ctx, j)
	if err != nil || n != writers*each {
		t.Fatalf("VerifyJournal = %d, %v; want %d entries", n, err, writers*each)
	}
	seen := map[string]bool{}
	var want int64 = 1
	err = j.Entries(ctx, 1, func(seq int64, line []byte) error {
		if seq != want {
			return fmt.Errorf("entry %d where %d was due", seq, want)
		}
		want++
		seen[string(line[bytes.Index(line, []byte(`"actor"`)):])] = true
		return nil
	})
	if err != nil || len(seen) != writers*each {
		t.Fatalf("entries: %v; %d distinct, want %d", err, len(seen), writers*each)
	}
}

// TestJournalTampered changes an entry, and stores one under another
// seq: VerifyJournal reports tampering each time.
func TestJournalTampered(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"edit", "renumber"} {
		t.Run(how, func(t *testing.T) {
			j, d := newJournal(t)
			for i := range 4 {
				if _, err := audit.AppendJournal(ctx, j, audit.Entry{Actor: "cli:x", Action: audit.ActionDelete, Target: fmt.Sprint(i), Result: audit.ResultOK}); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := audit.VerifyJournal(ctx, j); err != nil || n != 4 {
				t.Fatalf("before: %d, %v", n, err)
			}
			name := "audit/entries/00000000000000000002"
			line, err := store.ReadAll(ctx, d, name)
			if err != nil {
				t.Fatal(err)
			}
			switch how {
			case "edit":
				line = bytes.Replace(line, []byte(`"target":"1"`), []byte(`"target":"9"`), 1)
				err = d.Put(ctx, name, bytes.NewReader(line))
			case "renumber":
				// Entry 2 also stored as entry 5, past the end.
				err = d.Create(ctx, "audit/entries/00000000000000000005", bytes.NewReader(line))
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := audit.VerifyJournal(ctx, j); !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("VerifyJournal after a %s = %v, want ErrTampered", how, err)
			}
		})
	}
}

// failingJournal fails every Append while fail is set.
type failingJournal struct {
	audit.Journal
	fail bool
}

func (f *failingJournal) Append(ctx context.Context, seq int64, line []byte) error {
	if f.fail {
		return errors.New("endpoint down")
	}
	return f.Journal.Append(ctx, seq, line)
}

// TestJournalLog uses a Log kept in a journal as the server and the
// commands do on an object store: intents and outcomes, an outcome that
// cannot be written is kept and written before the next entry, queued
// entries, the head, and the chain read back through JournalReader.
func TestJournalLog(t *testing.T) {
	ctx := context.Background()
	sj, _ := newJournal(t)
	j := &failingJournal{Journal: sj}
	l := audit.OpenJournal(j, "s3://b/audit/entries")
	if l.Path() != "s3://b/audit/entries" || l.ReadOnly() {
		t.Fatalf("Path %q ReadOnly %v", l.Path(), l.ReadOnly())
	}
	in, err := l.Begin(ctx, audit.Entry{Actor: "local:a", Action: audit.ActionDelete, Target: "m@v1"})
	if err != nil {
		t.Fatal(err)
	}
	j.fail = true
	if _, err := in.Finish(ctx, audit.ResultOK, nil); !errors.As(err, new(*audit.UnconfirmedError)) {
		t.Fatalf("Finish on a failing journal: %v, want an UnconfirmedError", err)
	}
	if err := l.Queue(audit.Entry{Actor: "server", Action: audit.ActionServerStart, Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Begin(ctx, audit.Entry{Actor: "local:a", Action: audit.ActionImport, Target: "b"}); err == nil {
		t.Fatal("Begin on a failing journal succeeded")
	}
	j.fail = false
	if err := l.Flush(ctx); err != nil || l.Queued() != 0 {
		t.Fatalf("Flush: %v, %d still queued", err, l.Queued())
	}
	e, err := l.Append(ctx, audit.Entry{Actor: "local:a", Action: audit.ActionImport, Target: "c", Result: audit.ResultOK})
	if err != nil || e.Seq != 4 {
		t.Fatalf("Append = seq %d, %v; want seq 4 (intent, outcome, start, this)", e.Seq, err)
	}
	n, err := l.Verify(ctx)
	if err != nil || n != 4 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	h, err := l.Head(ctx)
	if err != nil || h.Seq != 4 {
		t.Fatalf("Head = %v, %v", h, err)
	}
	r := audit.JournalReader(ctx, j)
	if n, err := audit.VerifyHead(r, h); err != nil || n != 4 {
		t.Fatalf("VerifyHead on the journal's lines = %d, %v", n, err)
	}
	r.Close()
	r = audit.JournalReader(ctx, j)
	defer r.Close()
	if un, err := audit.Unconfirmed(r); err != nil || len(un) != 0 {
		t.Fatalf("Unconfirmed = %v, %v; the outcome was written late but written", un, err)
	}
}

// countingJournal counts the calls of Last, which lists the whole journal.
type countingJournal struct {
	audit.StoreJournal
	mu    sync.Mutex
	lasts int
}

func (c *countingJournal) Last(ctx context.Context) (int64, []byte, error) {
	c.mu.Lock()
	c.lasts++
	c.mu.Unlock()
	return c.StoreJournal.Last(ctx)
}

// TestJournalLogFollows has two Logs, as two servers, append to one
// journal in turns and at once: the chain stays whole, and a Log finds
// the end by following the few entries the other added rather than by
// listing the journal for every append.
func TestJournalLogFollows(t *testing.T) {
	ctx := context.Background()
	sj, _ := newJournal(t)
	j := &countingJournal{StoreJournal: sj}
	a, b := audit.OpenJournal(j, "j"), audit.OpenJournal(j, "j")
	entry := func(who string, i int) audit.Entry {
		return audit.Entry{Actor: who, Action: audit.ActionImport, Target: fmt.Sprint(i), Result: audit.ResultOK}
	}
	const rounds = 20
	for i := range rounds {
		if _, err := a.Append(ctx, entry("a", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Append(ctx, entry("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, l := range []*audit.Log{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if _, err := l.Append(ctx, entry("both", i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	n, err := audit.VerifyJournal(ctx, j)
	if err != nil || n != 4*rounds {
		t.Fatalf("VerifyJournal = %d, %v; want %d entries", n, err, 4*rounds)
	}
	if j.lasts > 4 {
		t.Errorf("%d appends listed the journal %d times; want each Log to follow, listing at most twice", 4*rounds, j.lasts)
	}
}

// failOpen fails to open one object, as an object store that answers an
// error for it would.
type failOpen struct {
	store.Store
	bad string
}

func (f failOpen) Open(ctx context.Context, name string) (store.File, error) {
	if name == f.bad {
		return nil, fmt.Errorf("reading %s: endpoint down", name)
	}
	return f.Store.Open(ctx, name)
}

// TestJournalEntries reads a journal of several read-ahead batches: every
// entry from the start given, in order, once; and an entry that cannot be
// read ends the walk there, after every entry before it and none after.
func TestJournalEntries(t *testing.T) {
	ctx := context.Background()
	j, d := newJournal(t)
	const n = 600
	for i := range n {
		if err := j.Append(ctx, int64(i+1), []byte(fmt.Sprintf(`{"n":%d}`, i+1))); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	err := j.Entries(ctx, 100, func(seq int64, line []byte) error {
		if want := fmt.Sprintf(`{"n":%d}`, seq); string(line) != want {
			t.Fatalf("entry %d = %s", seq, line)
		}
		got = append(got, seq)
		return nil
	})
	if err != nil || len(got) != n-99 || got[0] != 100 || got[len(got)-1] != n {
		t.Fatalf("Entries from 100: %d entries (%v ... ), %v", len(got), got[:min(3, len(got))], err)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("entry %d after %d", got[i], got[i-1])
		}
	}
	broken := audit.StoreJournal{Store: failOpen{d, "audit/entries/00000000000000000300"}, Dir: j.Dir}
	var last int64
	err = broken.Entries(ctx, 1, func(seq int64, line []byte) error { last = seq; return nil })
	if err == nil || !strings.Contains(err.Error(), "endpoint down") || last != 299 {
		t.Fatalf("Entries over an unreadable entry 300: last entry seen %d, %v; want 299 and its error", last, err)
	}
}

// listCounter is a store with an object store's listing from a key
// (store.AfterLister) that counts what a caller reads and lists. Its
// methods may be called concurrently (journal reads run several at
// once); read the counts once the caller has returned.
type listCounter struct {
	store.Store
	mu                   sync.Mutex
	reads, lists, listed int
}

func (c *listCounter) Open(ctx context.Context, name string) (store.File, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.Open(ctx, name)
}

func (c *listCounter) List(ctx context.Context, dir string) ([]string, error) {
	names, err := c.Store.List(ctx, dir)
	c.mu.Lock()
	c.lists++
	c.listed += len(names)
	c.mu.Unlock()
	return names, err
}

func (c *listCounter) ListAfter(ctx context.Context, dir, after string, limit int) ([]string, error) {
	names, err := store.ListAfter(ctx, c.Store, dir, after, limit)
	c.mu.Lock()
	c.lists++
	c.listed += len(names)
	c.mu.Unlock()
	return names, err
}

// TestJournalLast finds the end of journals of up to 30 pages of an
// object store's listing: the highest seq and its line. A journal of up
// to a page is listed; a longer one is searched with about
// 2 log2(n/1000) reads and one listing of a few dozen names, not listed
// whole. And Last still returns the highest seq stored when entries are
// missing from the middle (where the search may stop) or the end.
func TestJournalLast(t *testing.T) {
	ctx := context.Background()
	const dir = "audit/entries"
	name := func(seq int) string { return fmt.Sprintf("%s/%020d", dir, seq) }
	fill := func(t *testing.T, n int) store.Store {
		t.Helper()
		m := store.NewMem()
		objs := make([]store.Object, n)
		for i := range objs {
			objs[i] = store.Object{Name: name(i + 1), Data: fmt.Appendf(nil, `{"n":%d}`, i+1)}
		}
		if err := store.WriteGroups(ctx, m, objs); err != nil {
			t.Fatal(err)
		}
		return m
	}
	check := func(t *testing.T, s store.Store, want int) *listCounter {
		t.Helper()
		c := &listCounter{Store: s}
		seq, line, err := audit.StoreJournal{Store: c, Dir: dir}.Last(ctx)
		if err != nil || seq != int64(want) || (want > 0 && string(line) != fmt.Sprintf(`{"n":%d}`, want)) || (want == 0 && line != nil) {
			t.Fatalf("Last = %d, %q, %v; want %d", seq, line, err, want)
		}
		return c
	}
	for _, n := range []int{0, 1, 999, 1000, 1001, 1999, 2000, 2001, 4097, 30000} {
		c := check(t, fill(t, n), n)
		maxReads, maxListed := 2, n
		if n > 1000 {
			maxReads, maxListed = 2*bits.Len(uint(n/1000))+6, 64
		}
		if c.reads > maxReads || c.listed > maxListed || c.lists > 1 {
			t.Errorf("n=%d: Last read %d entries (want at most %d) and listed %d names (at most %d) in %d listings", n, c.reads, maxReads, c.listed, maxListed, c.lists)
		}
	}
	t.Run("Gaps", func(t *testing.T) {
		s := fill(t, 30000)
		// 2002 and 4004 are the search's first probes, 16016 one it
		// meets on the way; 22345 is off its path.
		for _, seq := range []int{2002, 4004, 16016, 22345, 29998, 29999, 30000} {
			if err := s.Delete(ctx, name(seq)); err != nil {
				t.Fatal(err)
			}
		}
		check(t, s, 29997)
		// Without entry 1001 the journal is listed whole.
		if err := s.Delete(ctx, name(1001)); err != nil {
			t.Fatal(err)
		}
		check(t, s, 29997)
	})
	t.Run("ReadFails", func(t *testing.T) {
		s := failOpen{fill(t, 5000), name(2002)}
		if _, _, err := (audit.StoreJournal{Store: s, Dir: dir}).Last(ctx); err == nil || !strings.Contains(err.Error(), "endpoint down") {
			t.Fatalf("Last with entry 2002 unreadable: %v; want its error", err)
		}
	})
	t.Run("NotAnEntry", func(t *testing.T) {
		s := fill(t, 3000)
		if err := s.Put(ctx, dir+"/zzz", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := (audit.StoreJournal{Store: s, Dir: dir}).Last(ctx); err == nil || !strings.Contains(err.Error(), "not a journal entry") {
			t.Fatalf("Last with a stray object after the entries: %v", err)
		}
	})
}
