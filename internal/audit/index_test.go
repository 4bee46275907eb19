package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store"
)

// TestIndexNote: an Index keeps the publishes that succeeded and the
// signers of the first import of each bundle that succeeded, and counts
// the lines about either that are not entries.
func TestIndexNote(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMem()
	l := audit.OpenJournal(audit.JournalIn(mem), "mem")
	for _, e := range []audit.Entry{
		{Actor: "token:ci", Action: audit.ActionPublish, Target: "corp.test/a@v1.0.0", Result: audit.ResultOK},
		{Actor: "token:ci", Action: audit.ActionPublish, Target: "corp.test/a@v1.1.0", Result: audit.ResultError},
		{Actor: "token:ci", Action: audit.ActionPublish, Target: "corp.test/a@v1.2.0", Result: audit.ResultPending},
		{Actor: "cli", Action: audit.ActionImport, Target: "b1.tar.zst", Result: audit.ResultOK, Detail: map[string]string{"digest": "d1", "key": "minisign:AA, pgp:BB"}},
		{Actor: "cli", Action: audit.ActionImport, Target: "b1.tar.zst", Result: audit.ResultOK, Detail: map[string]string{"digest": "d1", "key": "minisign:CC"}},
		{Actor: "cli", Action: audit.ActionImport, Target: "b2.tar.zst", Result: audit.ResultError, Detail: map[string]string{"digest": "d2", "key": "minisign:AA"}},
		{Actor: "cli", Action: audit.ActionTokenAdd, Target: "ci", Result: audit.ResultOK},
	} {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	x := audit.NewIndex()
	if err := audit.JournalIn(mem).Entries(ctx, 1, func(_ int64, line []byte) error { x.Note(line); return nil }); err != nil {
		t.Fatal(err)
	}
	x.Note([]byte(`{"action":"publish", "not": "an entry"}`))
	x.Note([]byte(`{"action":"token.add", "not": "an entry"}`))
	if got := slices.Sorted(maps.Keys(x.Publishes)); !slices.Equal(got, []string{"corp.test/a@v1.0.0"}) || x.Publishes["corp.test/a@v1.0.0"].Actor != "token:ci" {
		t.Errorf("publishes %v", x.Publishes)
	}
	if len(x.Signers) != 1 || !slices.Equal(x.Signers["d1"], []string{"minisign:AA", "pgp:BB"}) {
		t.Errorf("signers %v", x.Signers)
	}
	if x.Unreadable != 1 {
		t.Errorf("unreadable %d, want 1 (the publish that is not an entry)", x.Unreadable)
	}
}

// journalOf returns a store whose audit journal holds n publishes.
func journalOf(t *testing.T, n int) (*store.Mem, *audit.Log) {
	t.Helper()
	mem := store.NewMem()
	l := audit.OpenJournal(audit.JournalIn(mem), "mem")
	for i := range n {
		publishN(t, l, i)
	}
	return mem, l
}

func publishN(t *testing.T, l *audit.Log, i int) {
	t.Helper()
	e := audit.Entry{Actor: "t", Action: audit.ActionPublish, Target: fmt.Sprintf("corp.test/m%d@v1.0.0", i), Result: audit.ResultOK}
	if _, err := l.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// TestIndexReaderCheckpoint: a reader of a long journal writes a
// checkpoint, and the next reader (a server that starts) resumes from it,
// reading only the checkpoint, its last entry and the entries after it; a
// checkpoint whose last entry changed, or is gone, is ignored; a reader
// without Checkpoints (prune) ignores even a valid one.
func TestIndexReaderCheckpoint(t *testing.T) {
	ctx := context.Background()
	mem, l := journalOf(t, 2500)
	first := audit.NewIndexReader(mem)
	first.Checkpoints = true
	x, restarted, err := first.Update(ctx)
	if err != nil || restarted || len(x.Publishes) != 2500 {
		t.Fatalf("first read: %d publishes, restarted %v, %v", len(x.Publishes), restarted, err)
	}
	if ok, _ := store.Exists(ctx, mem, audit.IndexCheckpoint); !ok {
		t.Fatal("no checkpoint after reading 2,500 entries")
	}

	publishN(t, l, 2500)
	c := &listCounter{Store: mem}
	next := audit.NewIndexReader(c)
	next.Checkpoints = true
	x, _, err = next.Update(ctx)
	if err != nil || len(x.Publishes) != 2501 {
		t.Fatalf("from the checkpoint: %d publishes, %v; want 2501", len(x.Publishes), err)
	}
	// The checkpoint, entry 2500 to check it, the log file (missing) and
	// the new entry; one listing of one name.
	if c.reads > 4 || c.listed != 1 {
		t.Fatalf("from the checkpoint: %d reads, %d names listed; want at most 4 and 1", c.reads, c.listed)
	}
	if _, ok := x.Publishes["corp.test/m2500@v1.0.0"]; !ok {
		t.Fatal("the entry after the checkpoint is missing")
	}

	// A first read that fails after the checkpoint was read: the next
	// Update hands out what the checkpoint holds all the same.
	fails := &failLister{Store: mem, dir: audit.StoreJournalDir, err: errors.New("endpoint down")}
	flaky := audit.NewIndexReader(fails)
	flaky.Checkpoints, flaky.ReadOnly = true, true
	if _, _, err := flaky.Update(ctx); err == nil {
		t.Fatal("Update on a failing store succeeded")
	}
	fails.err = nil
	if x, _, err = flaky.Update(ctx); err != nil || len(x.Publishes) != 2501 {
		t.Fatalf("after a failed first read: %d publishes, %v; want 2501", len(x.Publishes), err)
	}

	// A reader without Checkpoints reads the whole journal.
	c = &listCounter{Store: mem}
	whole := audit.NewIndexReader(c)
	if x, _, err = whole.Update(ctx); err != nil || len(x.Publishes) != 2501 || c.reads < 2501 {
		t.Fatalf("without checkpoints: %d publishes in %d reads, %v", len(x.Publishes), c.reads, err)
	}

	// A checkpoint whose last entry is not the one it saw: ignored.
	last := fmt.Sprintf("%s/%020d", audit.StoreJournalDir, 2500)
	line, err := store.ReadAll(ctx, mem, last)
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Put(ctx, last, strings.NewReader(strings.Replace(string(line), "m2499", "m9999", 1))); err != nil {
		t.Fatal(err)
	}
	stale := audit.NewIndexReader(mem)
	stale.Checkpoints, stale.ReadOnly = true, true
	x, _, err = stale.Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Publishes["corp.test/m9999@v1.0.0"]; !ok || len(x.Publishes) != 2501 {
		t.Fatalf("a stale checkpoint was used: %d publishes, m9999 missing", len(x.Publishes))
	}
	if err := mem.Delete(ctx, last); err != nil {
		t.Fatal(err)
	}
	gone := audit.NewIndexReader(mem)
	gone.Checkpoints, gone.ReadOnly = true, true
	if x, _, err = gone.Update(ctx); err != nil || len(x.Publishes) != 2500 {
		t.Fatalf("checkpoint at a missing entry: %d publishes, %v; want the 2,500 the journal holds", len(x.Publishes), err)
	}
}

// TestIndexUnconfirmed: a publish begun whose outcome the log lacks is
// Unconfirmed, in one read or when its outcome comes in a later read
// (IndexReader.Update), and across a checkpoint.
func TestIndexUnconfirmed(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMem()
	l := audit.OpenJournal(audit.JournalIn(mem), "mem")
	begin := func(target string) *audit.Intent {
		in, err := l.Begin(ctx, audit.Entry{Actor: "token:ci", Action: audit.ActionPublish, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	unconfirmed := func(x audit.Index) []string {
		var out []string
		for _, p := range x.Unconfirmed {
			out = append(out, p.Target)
		}
		slices.Sort(out)
		return out
	}
	done := begin("corp.test/a@v1.0.0")
	if _, err := done.Finish(ctx, audit.ResultOK, nil); err != nil {
		t.Fatal(err)
	}
	late := begin("corp.test/a@v1.1.0")
	begin("corp.test/a@v1.2.0") // never finished
	r := audit.NewIndexReader(mem)
	x, _, err := r.Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := unconfirmed(x); !slices.Equal(got, []string{"corp.test/a@v1.1.0", "corp.test/a@v1.2.0"}) {
		t.Fatalf("unconfirmed after the first read: %v", got)
	}
	if _, err := late.Finish(ctx, audit.ResultError, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 { // enough for a checkpoint
		publishN(t, l, i)
	}
	r.Checkpoints = true
	if _, _, err := r.Update(ctx); err != nil {
		t.Fatal(err)
	}
	// The reader's whole index: a fresh reader from the checkpoint.
	r2 := audit.NewIndexReader(mem)
	r2.Checkpoints = true
	x2, _, err := r2.Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := unconfirmed(x2); !slices.Equal(got, []string{"corp.test/a@v1.2.0"}) {
		t.Fatalf("unconfirmed after the outcome came in a later read: %v", got)
	}
	if b, err := store.ReadAll(ctx, mem, audit.IndexCheckpoint); err != nil || !strings.Contains(string(b), "corp.test/a@v1.2.0") {
		t.Fatalf("checkpoint %s, %v: want it to hold the unconfirmed publish", b, err)
	}
}

// TestIndexUnconfirmedAcrossForms: a store moved from a disk keeps its
// log file beside the journal that took over; both number their entries
// from 1, and the journal's outcome of its intent 1 does not confirm the
// file's intent 1.
func TestIndexUnconfirmedAcrossForms(t *testing.T) {
	ctx := context.Background()
	old := store.NewMem() // the disk's log, made as a journal for its lines
	ol := audit.OpenJournal(audit.JournalIn(old), "old")
	if _, err := ol.Begin(ctx, audit.Entry{Actor: "cli", Action: audit.ActionPublish, Target: "corp.test/a@v1.0.0"}); err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if err := audit.JournalIn(old).Entries(ctx, 1, func(_ int64, line []byte) error {
		file.Write(append(line, '\n'))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mem := store.NewMem()
	if err := mem.Put(ctx, audit.StoreDir+"/"+audit.LogFile, bytes.NewReader(file.Bytes())); err != nil {
		t.Fatal(err)
	}
	l := audit.OpenJournal(audit.JournalIn(mem), "mem")
	in, err := l.Begin(ctx, audit.Entry{Actor: "cli", Action: audit.ActionPublish, Target: "corp.test/b@v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Finish(ctx, audit.ResultOK, nil); err != nil {
		t.Fatal(err)
	}
	x, _, err := audit.NewIndexReader(mem).Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range x.Unconfirmed {
		got = append(got, p.Target)
	}
	if len(got) != 1 || got[0] != "corp.test/a@v1.0.0" {
		t.Errorf("unconfirmed %v; want the file's publish of a", got)
	}
}
