package catalog

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
)

var searchPaths = []string{
	"github.com/BurntSushi/toml",
	"github.com/sirupsen/logrus",
	"github.com/Sirupsen/logrus",
	"golang.org/x/mod",
	"golang.org/x/tools",
	"golang.org/x/tools/gopls",
	"gopkg.in/yaml.v1",
	"example.com/a-b_c~d",
}

func searchCatalog(t testing.TB) *Catalog {
	st := newDisk(t)
	for _, p := range searchPaths {
		add(t, st, p+"@v1.0.0", "", true, t0)
	}
	return built(t, st)
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	c := searchCatalog(t)
	for _, tc := range []struct {
		q    Query
		want []string
	}{
		{Query{Q: "LOGRUS"}, []string{"github.com/Sirupsen/logrus", "github.com/sirupsen/logrus"}},
		{Query{Q: "tools"}, []string{"golang.org/x/tools", "golang.org/x/tools/gopls"}},
		{Query{Prefix: "GOLANG.org/x/"}, []string{"golang.org/x/mod", "golang.org/x/tools", "golang.org/x/tools/gopls"}},
		{Query{Prefix: "golang.org/x/", Q: "gopls"}, []string{"golang.org/x/tools/gopls"}},
		{Query{Prefix: "github.com/burntsushi/toml"}, []string{"github.com/BurntSushi/toml"}},
		{Query{Q: "toml\ngithub"}, nil},
		{Query{Q: "zzz"}, nil},
		{Query{Prefix: "h"}, nil},
		{Query{Prefix: "~"}, nil},
		{Query{Q: "~d"}, []string{"example.com/a-b_c~d"}},
		{Query{Q: "m/"}, []string{"example.com/a-b_c~d", "github.com/BurntSushi/toml", "github.com/Sirupsen/logrus", "github.com/sirupsen/logrus"}},
	} {
		res, err := c.Search(ctx, tc.q)
		if err != nil {
			t.Fatalf("%+v: %v", tc.q, err)
		}
		if got := paths(res); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %q, want %q", tc.q, got, tc.want)
		}
	}
}

// TestSearchPaging reads every page at each limit and checks that each
// module comes exactly once, in order.
func TestSearchPaging(t *testing.T) {
	ctx := context.Background()
	c := searchCatalog(t)
	all, err := c.Search(ctx, Query{Limit: MaxLimit})
	if err != nil || all.Next != "" || len(all.Modules) != len(searchPaths) {
		t.Fatalf("all: %+v %v", all, err)
	}
	for _, q := range []Query{{}, {Q: "o"}, {Prefix: "g"}, {Q: "com/"}, {Q: "LOG", Prefix: "github.com/"}, {Q: "olan"}} {
		want := matching(t, c, q)
		for limit := 1; limit <= len(searchPaths)+1; limit++ {
			q.Limit, q.Cursor = limit, ""
			var got []string
			for pages := 0; ; pages++ {
				if pages > len(searchPaths) {
					t.Fatalf("%+v: too many pages", q)
				}
				res, err := c.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Modules) > limit || len(res.Modules) == 0 && len(want) > 0 {
					t.Fatalf("%+v: page of %d", q, len(res.Modules))
				}
				got = append(got, paths(res)...)
				if res.Next == "" {
					break
				}
				q.Cursor = res.Next
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v: pages hold %q, want %q", q, got, want)
			}
		}
	}
}

// matching is what a search must find, computed the slow way.
func matching(t testing.TB, c *Catalog, q Query) []string {
	all, err := c.Search(context.Background(), Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range paths(all) {
		l := strings.ToLower(p)
		if strings.Contains(l, strings.ToLower(q.Q)) && strings.HasPrefix(l, strings.ToLower(q.Prefix)) {
			out = append(out, p)
		}
	}
	return out
}

func TestSearchBadParams(t *testing.T) {
	ctx := context.Background()
	c := searchCatalog(t)
	for _, q := range []Query{
		{Limit: -1}, {Limit: MaxLimit + 1}, {Cursor: "!!"}, {Cursor: "AA"}, {Cursor: strings.Repeat("A", 10000)},
	} {
		_, err := c.Search(ctx, q)
		var pe *ParamError
		if !errors.Is(err, ErrBadRequest) || !errors.As(err, &pe) {
			t.Errorf("%+v: err = %v, want a ParamError", q, err)
		}
	}
	for _, s := range []string{"limit=x", "limit=0", "limit=-5", "limit=1e3", "limit=99999999999999999999"} {
		v, _ := url.ParseQuery(s)
		if _, err := ParseQuery(v); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err = %v", s, err)
		}
	}
	v, _ := url.ParseQuery("q=a&prefix=b&limit=7&cursor=c")
	if q, err := ParseQuery(v); err != nil || q != (Query{Q: "a", Prefix: "b", Limit: 7, Cursor: "c"}) {
		t.Errorf("ParseQuery: %+v %v", q, err)
	}
}

func TestHostileModulePaths(t *testing.T) {
	ctx := context.Background()
	c := searchCatalog(t)
	for _, p := range []string{
		"", ".", "..", "/", "golang.org/x/../x/mod", "golang.org/x/mod/", "GOLANG.ORG/X/MOD", "golang.org/x/mod\x00",
		"golang.org/x/mod/@v", "golang.org/x/mod/@v/list", "a\nb", "\xff\xfe", strings.Repeat("a/", 5000), "%2e%2e/x",
		"golang.org/x/!mod", "bundles", "download",
	} {
		if _, err := c.Module(ctx, p, ModuleOptions{}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%q: err = %v, want not found", p, err)
		}
	}
	for _, v := range []string{"", "latest", "v1.0.0/../..", "\xff", strings.Repeat("v", 3000)} {
		if _, err := c.Module(ctx, "golang.org/x/mod", ModuleOptions{Version: v}); v != "" && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("version %q: err = %v, want not found", v, err)
		}
	}
}

func FuzzSearch(f *testing.F) {
	f.Add("logrus", "", 0, "")
	f.Add("", "golang.org/x/", 2, encodeCursor("golang.org/x/mod"))
	f.Add("\xff", "\x00", -1, "AQ")
	f.Add("İ", "G", 3, encodeCursor("\xff\n"))
	c := searchCatalog(f)
	f.Fuzz(func(t *testing.T, q, prefix string, limit int, cursor string) {
		res, err := c.Search(context.Background(), Query{Q: q, Prefix: prefix, Limit: limit, Cursor: cursor})
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		if limit == 0 {
			limit = DefaultLimit
		}
		if len(res.Modules) > limit {
			t.Fatalf("%d results over the limit %d", len(res.Modules), limit)
		}
		for _, m := range res.Modules {
			l := strings.ToLower(m.Path)
			if !strings.Contains(l, strings.ToLower(q)) || !strings.HasPrefix(l, strings.ToLower(prefix)) {
				t.Fatalf("%q matches neither %q nor %q", m.Path, q, prefix)
			}
		}
		if res.Next != "" {
			if _, err := decodeCursor(res.Next); err != nil {
				t.Fatalf("Next %q: %v", res.Next, err)
			}
		}
		// The module page of any string never panics either.
		_, err = c.Module(context.Background(), q, ModuleOptions{Version: prefix})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Module(%q): %v", q, err)
		}
	})
}

// TestSearchSubstrings checks searches of three bytes or more (answered
// from the trigram index) against the slow way, over many paths that
// share most of their trigrams, with prefixes and paging.
func TestSearchSubstrings(t *testing.T) {
	ctx := context.Background()
	st := newDisk(t)
	var all []string
	for i := range 120 {
		p := fmt.Sprintf("github.com/Synth%d/Mod%03d", i%7, i)
		if i%3 == 0 {
			p = fmt.Sprintf("example.com/lib%d/aaa%daaa", i%5, i)
		}
		all = append(all, p)
		add(t, st, p+"@v1.0.0", "", true, t0)
	}
	c := built(t, st)
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		p := strings.ToLower(all[r.IntN(len(all))])
		i := r.IntN(len(p) - 3)
		q := Query{Q: p[i : i+3+r.IntN(min(6, len(p)-i-3)+1)], Limit: 1 + r.IntN(8)}
		switch r.IntN(4) {
		case 0:
			q.Q = strings.ToUpper(q.Q)
		case 1:
			q.Prefix = p[:r.IntN(12)]
		case 2:
			q.Q += "x" // mostly no match
		}
		want := matching(t, c, q)
		var got []string
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatalf("%+v: too many pages", q)
			}
			res, err := c.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, paths(res)...)
			if res.Next == "" {
				break
			}
			q.Cursor = res.Next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v: got %q, want %q", q, got, want)
		}
	}
}

// TestFingerprint: a listing's fingerprint is FNV-1a over the names of
// module files, each followed by a zero byte (other names do not count),
// and encodeH1 is decodeH1's inverse.
func TestFingerprint(t *testing.T) {
	names := []string{"list", "v1.0.0.info", "v1.0.0.mod", "v1.0.0.zip", "v1.0.0.ziphash", "v1.1.0.gone", "v1.1.0.mod", "v2.0.0+incompatible.mod", "!a/", "v1.2.0.tmp-123", "v1.2.0.lock"}
	h := fnv.New64a()
	for _, n := range names {
		i := strings.LastIndexByte(n, '.')
		if _, ok := kindBits[n[i+1:]]; i > 0 && ok {
			h.Write([]byte(n))
			h.Write([]byte{0})
		}
	}
	if got, want := fingerprint(names), h.Sum64(); got != want {
		t.Errorf("fingerprint %x, want %x", got, want)
	}
	if fp, _ := parseListing(names); fp != h.Sum64() {
		t.Errorf("parseListing's fingerprint %x, want %x", fp, h.Sum64())
	}
	if fingerprint(names) == fingerprint(names[:3]) {
		t.Error("a listing with fewer files has the same fingerprint")
	}
	const h1 = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	if b, ok := decodeH1(h1); !ok || encodeH1(b) != h1 {
		t.Errorf("encodeH1(decodeH1(%s)) = %s", h1, encodeH1(b))
	}
}
