// Package storetest is the contract every store.Store backend must meet.
// A backend's tests call Run with a constructor of empty stores.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modferry/modferry/internal/store"
)

// Run runs the contract suite against stores made by newStore, which must
// return a new, empty store for each call. Optional capabilities
// (store.CompareAndSwapper) are checked when the store has them.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	put := func(t *testing.T, s store.Store, name, data string) {
		t.Helper()
		if err := s.Put(ctx, name, strings.NewReader(data)); err != nil {
			t.Fatalf("Put(%q): %v", name, err)
		}
	}
	get := func(t *testing.T, s store.Store, name string) string {
		t.Helper()
		b, err := store.ReadAll(ctx, s, name)
		if err != nil {
			t.Fatalf("ReadAll(%q): %v", name, err)
		}
		return string(b)
	}

	t.Run("PutOpen", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "download/a.test/m/@v/v1.0.0.mod", "module a.test/m\n")
		if got := get(t, s, "download/a.test/m/@v/v1.0.0.mod"); got != "module a.test/m\n" {
			t.Fatalf("got %q", got)
		}
		f, err := s.Open(ctx, "download/a.test/m/@v/v1.0.0.mod")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || fi.Size() != 16 {
			t.Fatalf("Stat = %v, %v; want size 16", fi, err)
		}
		if _, err := f.Seek(7, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(f)
		if string(rest) != "a.test/m\n" {
			t.Fatalf("after Seek read %q", rest)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "x/y", "one")
		put(t, s, "x/y", "two")
		if got := get(t, s, "x/y"); got != "two" {
			t.Fatalf("got %q, want two", got)
		}
	})

	t.Run("NotExist", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Open(ctx, "no/such"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open missing: %v, want fs.ErrNotExist", err)
		}
		put(t, s, "dir/file", "x")
		if _, err := s.Open(ctx, "dir"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open of a directory: %v, want fs.ErrNotExist", err)
		}
		if err := s.Delete(ctx, "no/such"); err != nil {
			t.Fatalf("Delete missing: %v", err)
		}
	})

	t.Run("Stat", func(t *testing.T) {
		// store.Stat and store.Exists, through the store's Stater if it
		// has one, agree with Open.
		s := newStore(t)
		put(t, s, "dir/file", "12345")
		fi, err := store.Stat(ctx, s, "dir/file")
		if err != nil || fi.Size() != 5 || fi.ModTime().IsZero() {
			t.Fatalf("Stat = %v, %v; want size 5 and a time", fi, err)
		}
		for _, name := range []string{"no/such", "dir"} {
			if _, err := store.Stat(ctx, s, name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat(%q): %v, want fs.ErrNotExist", name, err)
			}
			if ok, err := store.Exists(ctx, s, name); ok || err != nil {
				t.Fatalf("Exists(%q) = %v, %v", name, ok, err)
			}
		}
		if ok, err := store.Exists(ctx, s, "dir/file"); !ok || err != nil {
			t.Fatalf("Exists(dir/file) = %v, %v", ok, err)
		}
	})

	t.Run("Create", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, "v/one", strings.NewReader("first")); err != nil {
			t.Fatal(err)
		}
		err := s.Create(ctx, "v/one", strings.NewReader("second"))
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("second Create: %v, want fs.ErrExist", err)
		}
		if got := get(t, s, "v/one"); got != "first" {
			t.Fatalf("after refused Create got %q", got)
		}
	})

	t.Run("CreateRace", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 16 {
			wg.Go(func() {
				err := s.Create(ctx, "race/obj", strings.NewReader(fmt.Sprint(i)))
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, fs.ErrExist) {
					t.Errorf("Create: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d Creates of one name succeeded, want exactly 1", wins)
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		s := newStore(t)
		// Many writers of the same name with distinct, large contents: a
		// reader at any time sees one whole content, never a mix.
		contents := make([]string, 8)
		for i := range contents {
			contents[i] = strings.Repeat(string(rune('a'+i)), 256<<10)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var readerErr error
		var rwg sync.WaitGroup
		rwg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := store.ReadAll(ctx, s, "same/name")
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					readerErr = err
					return
				}
				if !slices.Contains(contents, string(b)) {
					readerErr = fmt.Errorf("reader saw a mixed or partial object of %d bytes", len(b))
					return
				}
			}
		})
		for _, c := range contents {
			for range 4 {
				wg.Go(func() {
					if err := s.Put(ctx, "same/name", strings.NewReader(c)); err != nil {
						t.Errorf("Put: %v", err)
					}
				})
			}
		}
		wg.Wait()
		close(stop)
		rwg.Wait()
		if readerErr != nil {
			t.Fatal(readerErr)
		}
		if got := get(t, s, "same/name"); !slices.Contains(contents, got) {
			t.Fatalf("final object is not one of the written contents")
		}
	})

	t.Run("FailedWriteLeavesNothing", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "keep/old", "old")
		boom := errors.New("boom")
		r := io.MultiReader(strings.NewReader("partial new content"), errReader{boom})
		if err := s.Put(ctx, "keep/old", r); !errors.Is(err, boom) {
			t.Fatalf("Put with failing reader: %v, want boom", err)
		}
		if got := get(t, s, "keep/old"); got != "old" {
			t.Fatalf("after failed Put got %q, want old", got)
		}
		if err := s.Put(ctx, "keep/new", io.MultiReader(strings.NewReader("x"), errReader{boom})); err == nil {
			t.Fatal("Put with failing reader succeeded")
		}
		if _, err := s.Open(ctx, "keep/new"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("failed Put left a visible object: %v", err)
		}
		names, err := s.List(ctx, "keep")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, []string{"old"}) {
			t.Fatalf("List after failed Put = %q, want [old]", names)
		}
	})

	t.Run("CanceledWrite", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(cctx, "c/obj", bytes.NewReader(make([]byte, 1<<20))); err == nil {
			t.Fatal("Put with a canceled context succeeded")
		}
		if ok, _ := store.Exists(ctx, s, "c/obj"); ok {
			t.Fatal("canceled Put left a visible object")
		}
	})

	t.Run("List", func(t *testing.T) {
		s := newStore(t)
		for _, n := range []string{"l/b", "l/a", "l/sub/x", "l/sub/y", "other"} {
			put(t, s, n, n)
		}
		got, err := s.List(ctx, "l")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a", "b", "sub/"}; !slices.Equal(got, want) {
			t.Fatalf("List(l) = %q, want %q", got, want)
		}
		got, _ = s.List(ctx, "l/sub/")
		if want := []string{"x", "y"}; !slices.Equal(got, want) {
			t.Fatalf("List(l/sub/) = %q, want %q", got, want)
		}
		got, _ = s.List(ctx, "")
		if want := []string{"l/", "other"}; !slices.Equal(got, want) {
			t.Fatalf("List(root) = %q, want %q", got, want)
		}
		got, err = s.List(ctx, "missing")
		if err != nil || len(got) != 0 {
			t.Fatalf("List(missing) = %q, %v; want empty", got, err)
		}
		if err := s.Delete(ctx, "l/a"); err != nil {
			t.Fatal(err)
		}
		got, _ = s.List(ctx, "l")
		if want := []string{"b", "sub/"}; !slices.Equal(got, want) {
			t.Fatalf("List after Delete = %q, want %q", got, want)
		}
	})

	t.Run("ListAfter", func(t *testing.T) {
		s := newStore(t)
		all := []string{"l/a", "l/b", "l/b0", "l/c", "l/sub/x", "l/sub/y", "l/t", "other"}
		for _, n := range all {
			put(t, s, n, n)
		}
		for _, tc := range []struct {
			dir, after string
			limit      int
			want       []string
		}{
			{"l", "", 0, []string{"a", "b", "b0", "c", "sub/", "t"}},
			{"l", "", 2, []string{"a", "b"}},
			{"l", "a", 0, []string{"b", "b0", "c", "sub/", "t"}},
			{"l", "b", 2, []string{"b0", "c"}},
			{"l", "bz", 1, []string{"c"}},
			{"l", "c", 0, []string{"sub/", "t"}},
			{"l", "sub", 0, []string{"sub/", "t"}},
			{"l", "sub/", 0, []string{"t"}},
			{"l", "sub/x", 0, []string{"t"}},
			{"l", "t", 0, nil},
			{"l", "z", 5, nil},
			{"l/sub", "x", 0, []string{"y"}},
			{"", "l/", 0, []string{"other"}},
			{"missing", "", 0, nil},
		} {
			got, err := store.ListAfter(ctx, s, tc.dir, tc.after, tc.limit)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ListAfter(%q, %q, %d) = %q, %v; want %q", tc.dir, tc.after, tc.limit, got, err, tc.want)
			}
		}
		// A listing longer than an object store's page (1,000 keys).
		const n = 1205
		objs := make([]store.Object, n)
		for i := range objs {
			objs[i] = store.Object{Name: fmt.Sprintf("long/%05d", i), Data: []byte("x")}
		}
		if err := store.WriteGroups(ctx, s, objs); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ after, limit, first, count int }{
			{-1, 0, 0, n}, {-1, 1100, 0, 1100}, {3, 0, 4, n - 4}, {3, 1001, 4, 1001}, {1200, 10, 1201, 4},
		} {
			after := ""
			if tc.after >= 0 {
				after = fmt.Sprintf("%05d", tc.after)
			}
			got, err := store.ListAfter(ctx, s, "long", after, tc.limit)
			if err != nil || len(got) != tc.count || got[0] != fmt.Sprintf("%05d", tc.first) || got[len(got)-1] != fmt.Sprintf("%05d", tc.first+tc.count-1) {
				t.Errorf("ListAfter(long, %q, %d) = %d names, %v; want %d from %05d", after, tc.limit, len(got), err, tc.count, tc.first)
			}
		}
	})

	t.Run("Batch", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "b/keep", "old")
		err := store.WriteBatch(ctx, s, []store.Object{
			{Name: "b/keep", Data: []byte("new"), IfAbsent: true},
			{Name: "b/one", Data: []byte("1")},
			{Name: "b/sub/two", Data: []byte("2"), IfAbsent: true},
			{Name: "b/one", Data: []byte("1 again")},
		})
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"b/keep": "old", "b/one": "1 again", "b/sub/two": "2"} {
			if got := get(t, s, name); got != want {
				t.Errorf("after WriteBatch %s = %q, want %q", name, got, want)
			}
		}
		if err := store.WriteBatch(ctx, s, []store.Object{{Name: "../x", Data: nil}}); !errors.Is(err, store.ErrBadName) {
			t.Errorf("WriteBatch with a bad name: %v", err)
		}
	})

	t.Run("OddNames", func(t *testing.T) {
		// Characters that URLs, object keys or file systems treat
		// specially, all valid in module paths, versions or files.
		s := newStore(t)
		names := []string{"!upper", "+incompatible", "@v", "a b", "a%2Fb", "a&b=c", "é", "~tilde"}
		for _, n := range names {
			put(t, s, "odd/"+n, n)
		}
		for _, n := range names {
			if got := get(t, s, "odd/"+n); got != n {
				t.Errorf("object %q holds %q", n, got)
			}
		}
		got, err := s.List(ctx, "odd")
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(names)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("List = %q, want %q", got, want)
		}
	})

	t.Run("CompareAndSwap", func(t *testing.T) { runCAS(t, newStore) })

	t.Run("BadNames", func(t *testing.T) {
		s := newStore(t)
		for _, n := range []string{"", "/abs", "a/../b", "..", "a//b", "a/./b", `a\b`, "a/\x00", "a/.tmp-x", strings.Repeat("x", store.MaxNameLen+1)} {
			if err := s.Put(ctx, n, strings.NewReader("x")); !errors.Is(err, store.ErrBadName) {
				t.Errorf("Put(%q) = %v, want ErrBadName", n, err)
			}
			if _, err := s.Open(ctx, n); !errors.Is(err, store.ErrBadName) {
				t.Errorf("Open(%q) = %v, want ErrBadName", n, err)
			}
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
