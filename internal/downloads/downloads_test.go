package downloads

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/store"
)

func TestRecordFlushRead(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	r := New(st, Options{})
	t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r.Record("/example.com/!upper/@v/v1.0.0.mod", t1)
	r.Record("/example.com/!upper/@v/v1.0.0.zip", t1.Add(time.Hour))
	r.Record("/example.com/!upper/@v/v1.0.0.info", t1.Add(-time.Hour))
	r.Record("/example.com/m/@v/list", t1) // not a version: ignored at flush
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Record("/example.com/m/@v/v0.1.0.info", t1)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil { // nothing new: writes nothing
		t.Fatal(err)
	}
	if names, _ := objects(ctx, st); len(names) != 2 {
		t.Fatalf("%d objects, want 2: %v", len(names), names)
	}
	got, err := Read(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	want := map[module.Version]time.Time{
		{Path: "example.com/Upper", Version: "v1.0.0"}: t1.Add(time.Hour),
		{Path: "example.com/m", Version: "v0.1.0"}:     t1,
	}
	if len(got) != len(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	for v, tm := range want {
		if !got[v].Equal(tm) {
			t.Errorf("%v: %v, want %v", v, got[v], tm)
		}
	}
}

// TestBounded checks that memory stays bounded when nothing flushes: a
// full map is handed over once, then new paths are dropped and counted.
func TestBounded(t *testing.T) {
	r := New(store.NewMem(), Options{MaxPending: 10})
	now := time.Now()
	for i := range 35 {
		r.Record(fmt.Sprintf("/example.com/m/@v/v1.0.%d.zip", i), now)
	}
	r.mu.Lock()
	held := len(r.pending) + len(r.full)
	r.mu.Unlock()
	if held > 20 || r.Dropped() != int64(35-held) {
		t.Fatalf("holds %d paths, dropped %d", held, r.Dropped())
	}
	select {
	case <-r.kick:
	default:
		t.Fatal("the flusher was not woken")
	}
	// A path held already is updated, never dropped.
	r.Record("/example.com/m/@v/v1.0.0.zip", now.Add(time.Second))
	if r.Dropped() != int64(35-held) {
		t.Fatal("an update was dropped")
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := Read(context.Background(), r.st)
	if len(got) != held {
		t.Fatalf("stored %d versions, want %d", len(got), held)
	}
}

// TestCompact checks that objects are merged once there are too many,
// keeping the latest time of each version.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	r := New(st, Options{MaxObjects: 3})
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		r.Record("/example.com/m/@v/v1.0.0.zip", base.Add(time.Duration(i)*time.Hour))
		r.Record(fmt.Sprintf("/example.com/m/@v/v1.1.%d.zip", i), base)
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if names, _ := objects(ctx, st); len(names) > 3 {
			t.Fatalf("%d objects after flush %d", len(names), i)
		}
	}
	got, err := Read(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || !got[module.Version{Path: "example.com/m", Version: "v1.0.0"}].Equal(base.Add(4*time.Hour)) {
		t.Fatalf("read %v", got)
	}
}

// TestRunFlushesOnStop checks that Run writes what is pending when its
// context ends.
func TestRunFlushesOnStop(t *testing.T) {
	st := store.NewMem()
	r := New(st, Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, func(err error) { t.Error(err) }); close(done) }()
	r.Record("/example.com/m/@v/v1.0.0.mod", time.Now())
	cancel()
	<-done
	if got, _ := Read(context.Background(), st); len(got) != 1 {
		t.Fatalf("read %v", got)
	}
}
