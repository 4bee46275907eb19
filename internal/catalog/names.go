package catalog

import (
	"strings"
	"sync"
	"sync/atomic"
)

// handle names an interned string (see intern): module paths, versions,
// go versions and licence lists. It is a number, not a pointer, so that
// the index's entries, edges and map keys made of handles hold no
// pointers at all. With unique.Handle (a pointer to the canonical string)
// the index of a 100k-version store held about two million pointers, and
// the garbage collector followed every one of them in every cycle while
// the server answered requests: its cycles, and the requests that waited
// on them, made the tail of the latency (bench/results/scale-notes.md).
// The strings themselves live once each in the process-wide table names.
//
// The zero handle is "".
type handle uint32

// Value returns the string h names.
func (h handle) Value() string { return names.str(h) }

// intern returns the handle of s.
func intern(s string) handle { return names.intern(s) }

// str returns h's string, "" for the zero handle.
func str(h handle) string { return h.Value() }

// names is the table of interned strings. It only grows: it holds each
// distinct path, version, go version and licence list the process's
// catalogs ever indexed, which a store's index holds anyway (a module
// deleted from the store leaves its path and versions here).
var names = newNameTable()

const nameChunkBits = 12

type nameChunk [1 << nameChunkBits]string

// nameTable interns strings. intern takes a mutex; str takes none: the
// strings sit in fixed-size chunks that are never moved, reached through
// a directory that is replaced (copied, one more chunk) when it grows. A
// handle is published only after its string is written, and a reader gets
// a handle only through something synchronized with that (the catalog's
// locks), so the reader sees the string.
type nameTable struct {
	mu  sync.Mutex
	ids map[string]handle // under mu
	n   uint32            // handles given, under mu
	dir atomic.Pointer[[]*nameChunk]
}

func newNameTable() *nameTable {
	t := &nameTable{ids: map[string]handle{"": 0}, n: 1}
	dir := []*nameChunk{new(nameChunk)}
	t.dir.Store(&dir)
	return t
}

func (t *nameTable) intern(s string) handle {
	if s == "" {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.ids[s]; ok {
		return h
	}
	h := handle(t.n)
	if t.n == 1<<32-1 {
		panic("catalog: more than 2^32 distinct names")
	}
	dir := *t.dir.Load()
	if c := int(h >> nameChunkBits); c == len(dir) {
		grown := make([]*nameChunk, c+1, c+1+c/4)
		copy(grown, dir)
		grown[c] = new(nameChunk)
		t.dir.Store(&grown)
		dir = grown
	}
	s = strings.Clone(s) // not a piece of a larger buffer the caller holds
	dir[h>>nameChunkBits][h&(1<<nameChunkBits-1)] = s
	t.ids[s] = h
	t.n++
	return h
}

func (t *nameTable) str(h handle) string {
	return (*t.dir.Load())[h>>nameChunkBits][h&(1<<nameChunkBits-1)]
}
