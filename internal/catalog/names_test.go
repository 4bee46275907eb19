package catalog

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestNameTable(t *testing.T) {
	tab := newNameTable()
	if h := tab.intern(""); h != 0 || tab.str(0) != "" {
		t.Fatalf(`intern("") = %d, str(0) = %q; want 0 and ""`, h, tab.str(0))
	}
	// More than one chunk, so that the directory grows while others read.
	const n = 3<<nameChunkBits + 17
	var wg sync.WaitGroup
	hs := make([][]handle, 4)
	for g := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				s := fmt.Sprintf("example.com/m%d", i)
				h := tab.intern(s)
				if got := tab.str(h); got != s {
					t.Errorf("str(intern(%q)) = %q", s, got)
					return
				}
				hs[g] = append(hs[g], h)
			}
		}()
	}
	wg.Wait()
	seen := map[handle]bool{}
	for i := range n {
		h := hs[0][i]
		for g := 1; g < len(hs); g++ {
			if hs[g][i] != h {
				t.Fatalf("name %d: handles %d and %d from two goroutines", i, h, hs[g][i])
			}
		}
		if seen[h] || h == 0 {
			t.Fatalf("name %d: handle %d given twice", i, h)
		}
		seen[h] = true
	}
	// A piece of a larger string is copied, not kept.
	big := "prefix/example.com/piece/suffix"
	h := tab.intern(big[7:24])
	if got := tab.str(h); got != "example.com/piece" {
		t.Fatalf("str = %q", got)
	}
}

// TestIndexHoldsNoPointers keeps the index's bulk free of pointers for the
// garbage collector: the entries of versions, the dependents' edges and
// the keys of the origin and licence maps (see handle).
func TestIndexHoldsNoPointers(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
	}{
		{"verEntry", verEntry{}},
		{"depEdge", depEdge{}},
		{"licenseVal.ids", licenseVal{}.ids},
		{"versionKey", versionKey{}},
		{"handle", handle(0)},
	} {
		if hasPointers(reflect.TypeOf(c.v)) {
			t.Errorf("%s holds pointers", c.name)
		}
	}
}

// hasPointers reports whether a value of type t holds a pointer.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	default:
		return true
	}
}

func TestHasPointers(t *testing.T) {
	type withString struct {
		N int
		S string
	}
	for v, want := range map[any]bool{0: false, [2]uint32{}: false, withString{}: true, "": true, &struct{}{}: true} {
		if got := hasPointers(reflect.TypeOf(v)); got != want {
			t.Errorf("hasPointers(%T) = %v, want %v", v, got, want)
		}
	}
}
