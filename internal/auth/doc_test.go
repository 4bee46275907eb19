package auth

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// memDoc is a Doc in memory, as a store without files would provide:
// versions are counters, and Replace is a compare-and-swap on them.
type memDoc struct {
	mu       sync.Mutex
	data     []byte
	n        int
	conflict func() // if set, runs inside Replace before the comparison
}

func (m *memDoc) version() string {
	if m.data == nil {
		return ""
	}
	return strconv.Itoa(m.n)
}

func (m *memDoc) Read(context.Context) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data), m.version(), nil
}

func (m *memDoc) Replace(_ context.Context, data []byte, version string) (string, error) {
	m.mu.Lock()
	f := m.conflict
	m.conflict = nil
	m.mu.Unlock()
	if f != nil {
		f()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if version != m.version() {
		return "", ErrChanged
	}
	m.data, m.n = bytes.Clone(data), m.n+1
	return m.version(), nil
}

// TestTokensOnDoc checks that two Tokens sharing one Doc that is not a
// file see each other's changes, and that an update that loses a race
// (the document replaced between its read and its write) is made again
// on the new content rather than overwriting it.
func TestTokensOnDoc(t *testing.T) {
	doc := &memDoc{}
	a, err := OpenDoc(doc, "mem")
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenDoc(doc, "mem")
	if err != nil {
		t.Fatal(err)
	}
	secretA, err := a.Add("a", []Scope{ScopeRead}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if info, err := b.Authenticate(secretA); err != nil || info.Name != "a" {
		t.Fatalf("the other Tokens: %+v, %v", info, err)
	}
	// b adds "c" while a's add of "b" is between its read and its write
	// (once b's background write of last-use times is done).
	b.wg.Wait()
	doc.mu.Lock()
	doc.conflict = func() {
		if _, err := b.Add("c", []Scope{ScopeRead}, time.Time{}); err != nil {
			t.Error(err)
		}
	}
	doc.mu.Unlock()
	if _, err := a.Add("b", []Scope{ScopeAdmin}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	list, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, i.Name)
	}
	if len(names) != 3 || names[0] != "a" || names[1] != "b" || names[2] != "c" {
		t.Fatalf("tokens after a lost race = %v, want [a b c]", names)
	}
}

// TestTokensOnStoreDoc runs two Tokens on one object of a store.Mem, as
// two servers sharing an object store would: a token one adds, the other
// accepts, and one revoked by the other is refused.
func TestTokensOnStoreDoc(t *testing.T) {
	doc := StoreDoc{Store: store.NewMem(), Name: "tokens/tokens.json"}
	a, err := OpenDoc(doc, doc.Name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenDoc(doc, doc.Name)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := a.Add("ci", []Scope{ScopeRead}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b.Reload()
	if _, err := b.Authenticate(secret); err != nil {
		t.Fatalf("the other Tokens: %v", err)
	}
	if _, err := b.Add("admin", []Scope{ScopeAdmin}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke("ci"); err != nil {
		t.Fatal(err)
	}
	b.Reload()
	if _, err := b.Authenticate(secret); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("a revoked token: %v", err)
	}
	if list, _ := b.List(); len(list) != 1 || list[0].Name != "admin" {
		t.Fatalf("tokens = %+v, want admin alone", list)
	}
}

// statMem is a store.Mem that can tell an object's version without
// reading it, and counts the reads (Get) and the looks (StatVersion).
type statMem struct {
	*store.Mem
	gets, stats int
}

func (m *statMem) Get(ctx context.Context, name string) ([]byte, string, error) {
	m.gets++
	return m.Mem.Get(ctx, name)
}

func (m *statMem) StatVersion(ctx context.Context, name string) (string, error) {
	m.stats++
	_, v, err := m.Mem.Get(ctx, name)
	return v, err
}

// TestStoreDocPollsVersion checks that Tokens on a StoreDoc whose store
// can stat a version polls that rather than reading the document, and
// reads it once it changed.
func TestStoreDocPollsVersion(t *testing.T) {
	st := &statMem{Mem: store.NewMem()}
	doc := StoreDoc{Store: st, Name: "tokens/tokens.json"}
	a, err := OpenDoc(doc, doc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add("ci", []Scope{ScopeRead}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	b, err := OpenDoc(doc, doc.Name)
	if err != nil {
		t.Fatal(err)
	}
	gets := st.gets
	for range 5 {
		if err := b.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if st.gets != gets || st.stats < 5 {
		t.Fatalf("5 reloads of an unchanged document: %d reads, %d stats; want no read", st.gets-gets, st.stats)
	}
	if err := a.Revoke("ci"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if list, _ := b.List(); len(list) != 0 {
		t.Fatalf("after a revoke elsewhere: %+v, want no token", list)
	}
}

// spoilingDoc is a Doc that, once armed, spoils the document right after
// the next Replace and has the Tokens reload it before Replace returns:
// what a reload racing an update sees when the file changes after the
// update's write.
type spoilingDoc struct {
	StoreDoc
	armed  bool
	reload func() error
}

func (d *spoilingDoc) Replace(ctx context.Context, data []byte, version string) (string, error) {
	v, err := d.StoreDoc.Replace(ctx, data, version)
	if err != nil || !d.armed {
		return v, err
	}
	d.armed = false
	if err := d.Store.(*store.Mem).Put(ctx, d.Name, strings.NewReader("{not json")); err != nil {
		return "", err
	}
	d.reload() // installs the spoiled document: every token refused
	return v, nil
}

// TestUpdateAfterRacingReload checks that an update whose write was
// followed by a change that a reload already installed does not put its
// own, older copy back: a spoiled tokens file stays refused (the server's
// last-use write-back raced the corruption in TestUnreadableTokensFailClosed
// on a loaded CI machine).
func TestUpdateAfterRacingReload(t *testing.T) {
	doc := &spoilingDoc{StoreDoc: StoreDoc{Store: store.NewMem(), Name: "tokens/tokens.json"}}
	tokens, err := OpenDoc(doc, doc.Name)
	if err != nil {
		t.Fatal(err)
	}
	doc.reload = tokens.Reload
	secret, err := tokens.Add("ci", []Scope{ScopeRead}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	doc.armed = true
	if _, err := tokens.Add("other", []Scope{ScopeRead}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Authenticate(secret); err == nil || errors.Is(err, ErrUnknownToken) {
		t.Fatalf("a token while the tokens file is spoiled: %v, want the file's error", err)
	}
}
