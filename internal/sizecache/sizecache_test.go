package sizecache

import (
	"fmt"
	"sync"
	"testing"
)

func TestBounded(t *testing.T) {
	c := New[string](800)
	for i := range 100 {
		c.Put(fmt.Sprint(i), "x", 100)
		if c.size > c.limit {
			t.Fatalf("after %d puts: %d bytes kept, limit %d", i+1, c.size, c.limit)
		}
	}
	if v, ok := c.Get("99"); !ok || v != "x" {
		t.Errorf("the newest entry is gone: %q, %v", v, ok)
	}
	c.Put("big", "y", 101) // over limit/8
	if _, ok := c.Get("big"); ok {
		t.Error("a value over an eighth of the limit was kept")
	}
	c.Put("99", "z", 50) // replacing counts the old size out
	if v, _ := c.Get("99"); v != "z" {
		t.Errorf("replaced value = %q", v)
	}
	sum := 0
	for _, e := range c.m {
		sum += e.n
	}
	if sum != c.size {
		t.Errorf("size %d, entries add up to %d", c.size, sum)
	}
}

func TestDelete(t *testing.T) {
	c := New[int](1 << 10)
	for _, k := range []string{"a/1", "a/2", "ab", "b/1"} {
		c.Put(k, 1, 10)
	}
	c.Delete("b/1")
	c.DeletePrefix("a/")
	for k, want := range map[string]bool{"a/1": false, "a/2": false, "ab": true, "b/1": false} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("%s kept = %v, want %v", k, ok, want)
		}
	}
	if c.size != 10 {
		t.Errorf("size %d, want 10", c.size)
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int](1 << 12)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				k := fmt.Sprint(g, i%50)
				c.Put(k, i, 64)
				c.Get(k)
				if i%7 == 0 {
					c.Delete(k)
				}
			}
		})
	}
	wg.Wait()
	if c.size > c.limit || c.size < 0 {
		t.Errorf("size %d, limit %d", c.size, c.limit)
	}
}
