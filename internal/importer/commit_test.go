package importer

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// putLog is a store without optional capabilities that records the order
// in which writes end.
type putLog struct {
	store.Store
	mu    sync.Mutex
	order []string
}

func (p *putLog) Put(ctx context.Context, name string, r io.Reader) error {
	time.Sleep(time.Duration(len(name)%3) * time.Millisecond) // vary the interleaving
	if err := p.Store.Put(ctx, name, r); err != nil {
		return err
	}
	p.mu.Lock()
	p.order = append(p.order, name)
	p.mu.Unlock()
	return nil
}

// TestCommitOrderPerVersion checks the commit to a store that is not a
// Stager: every file written once, each version's in commit order (its
// .info last), and each module's list after all of that module's files.
func TestCommitOrderPerVersion(t *testing.T) {
	dir := t.TempDir()
	var files []store.Move
	var want []string
	n := 0
	local := func() string {
		n++
		f := filepath.Join(dir, fmt.Sprintf("f%04d", n))
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	paths := []string{"example.com/a", "example.com/a/b", "golang.org/x/text"}
	for _, p := range paths {
		for _, ver := range []string{"v1.0.0", "v1.1.0", "v0.0.0-20240101000000-abcdefabcdef"} {
			for _, k := range modfiles.CommitOrder(true) {
				name, err := modfiles.Name(module.Version{Path: p, Version: ver}, k)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, store.Move{Name: name, Src: local()})
				want = append(want, name)
			}
		}
	}
	for _, p := range paths {
		name, _ := modfiles.ListName(p)
		files = append(files, store.Move{Name: name, Src: local()})
		want = append(want, name)
	}
	st := &putLog{Store: store.NewMem()}
	var hooked sync.Map
	if err := commit(context.Background(), st, dir, files, func(name string) { hooked.Store(name, true) }); err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(st.order)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("wrote %v, want each of %v once", st.order, want)
	}
	pos := map[string]int{}
	for i, name := range st.order {
		pos[name] = i
		if _, ok := hooked.Load(name); !ok {
			t.Errorf("no hook call before %s", name)
		}
	}
	for i := 0; i+1 < len(files); i++ {
		a, b := files[i].Name, files[i+1].Name
		va, _, errA := modfiles.ParseName(a)
		vb, _, errB := modfiles.ParseName(b)
		if errA == nil && errB == nil && va == vb && pos[a] > pos[b] {
			t.Errorf("%s was written after %s", a, b)
		}
	}
	for _, p := range paths {
		list, _ := modfiles.ListName(p)
		for _, f := range files {
			if v, _, err := modfiles.ParseName(f.Name); err == nil && v.Path == p && pos[f.Name] > pos[list] {
				t.Errorf("%s was written before %s", list, f.Name)
			}
		}
	}
}
