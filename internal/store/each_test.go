package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachRunsEveryIndexOnce(t *testing.T) {
	const n = 1000
	var seen [n]atomic.Int32
	var running, most atomic.Int32
	err := Each(context.Background(), n, func(ctx context.Context, i int) error {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
		seen[i].Add(1)
		running.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("index %d ran %d times", i, c)
		}
	}
	if m := most.Load(); m > Workers {
		t.Errorf("%d calls at once, more than Workers (%d)", m, Workers)
	}
}

// The error is the lowest failing index's, as a loop's would be, even
// when a higher index fails first.
func TestEachLowestError(t *testing.T) {
	release := make(chan struct{})
	err := Each(context.Background(), 50, func(ctx context.Context, i int) error {
		switch i {
		case 3:
			<-release // fails after 7 has
			return fmt.Errorf("index %d", i)
		case 7:
			defer close(release)
			return fmt.Errorf("index %d", i)
		}
		return nil
	})
	if err == nil || err.Error() != "index 3" {
		t.Fatalf("got %v, want index 3's error", err)
	}
}

func TestEachStopsAfterFailure(t *testing.T) {
	var ran atomic.Int32
	boom := errors.New("boom")
	err := Each(context.Background(), 100000, func(ctx context.Context, i int) error {
		ran.Add(1)
		if i == 0 {
			return boom
		}
		time.Sleep(10 * time.Microsecond)
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if r := ran.Load(); r > 10000 {
		t.Errorf("%d calls ran after the first failed", r)
	}
}

// With a limit of one, EachLimit is a loop: in order, and it stops at
// the first error.
func TestEachLimitOne(t *testing.T) {
	var order []int
	boom := errors.New("boom")
	err := EachLimit(context.Background(), 1, 10, func(ctx context.Context, i int) error {
		order = append(order, i) // no lock: one goroutine
		if i == 6 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !slices.Equal(order, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("got %v after %v", err, order)
	}
}

func TestEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	err := Each(ctx, 10, func(ctx context.Context, i int) error { ran.Add(1); return nil })
	if !errors.Is(err, context.Canceled) || ran.Load() != 0 {
		t.Fatalf("got %v after %d calls, want context.Canceled and none", err, ran.Load())
	}
	if err := Each(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
}

// plainStore hides every optional capability of the store it wraps.
type plainStore struct{ Store }

// orderStore records, for each Put or Create, how many writes had ended
// before it began.
type orderStore struct {
	Store
	ended   atomic.Int32
	mu      sync.Mutex
	started map[string]int32
}

func (s *orderStore) note(name string) {
	s.mu.Lock()
	s.started[name] = s.ended.Load()
	s.mu.Unlock()
}

func (s *orderStore) Put(ctx context.Context, name string, r io.Reader) error {
	s.note(name)
	defer s.ended.Add(1)
	time.Sleep(time.Millisecond)
	return s.Store.Put(ctx, name, r)
}

func (s *orderStore) Create(ctx context.Context, name string, r io.Reader) error {
	s.note(name)
	defer s.ended.Add(1)
	time.Sleep(time.Millisecond)
	return s.Store.Create(ctx, name, r)
}

// TestWriteGroupsOrder checks that on a store without batches a group's
// writes all end before the next group's begin, and that an IfAbsent
// object leaves what is there.
func TestWriteGroupsOrder(t *testing.T) {
	ctx := context.Background()
	mem := NewMem()
	if err := mem.Put(ctx, "a/03", strings.NewReader("held")); err != nil {
		t.Fatal(err)
	}
	st := &orderStore{Store: plainStore{mem}, started: map[string]int32{}}
	var first, second []Object
	for i := range 40 {
		first = append(first, Object{Name: fmt.Sprintf("a/%02d", i), Data: []byte("new"), IfAbsent: true})
		second = append(second, Object{Name: fmt.Sprintf("b/%02d", i), Data: []byte("new")})
	}
	if err := WriteGroups(ctx, st, first, second); err != nil {
		t.Fatal(err)
	}
	for _, o := range second {
		if n := st.started[o.Name]; n < int32(len(first)) {
			t.Fatalf("%s began after %d writes had ended, before the first group's %d", o.Name, n, len(first))
		}
	}
	if b, _ := ReadAll(ctx, mem, "a/03"); string(b) != "held" {
		t.Errorf("IfAbsent replaced a held object: %q", b)
	}
	if b, _ := ReadAll(ctx, mem, "b/39"); string(b) != "new" {
		t.Errorf("b/39 = %q", b)
	}
	// A bad name in the first group: nothing of the second is written.
	mem2 := NewMem()
	err := WriteGroups(ctx, plainStore{mem2}, []Object{{Name: "ok"}, {Name: "../bad"}}, []Object{{Name: "later"}})
	if !errors.Is(err, ErrBadName) {
		t.Fatalf("got %v, want ErrBadName", err)
	}
	if ok, _ := Exists(ctx, mem2, "later"); ok {
		t.Error("the second group was written after the first failed")
	}
}
