package catalog

import (
	"github.com/modferry/modferry/internal/api"

	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ErrBadRequest is matched (errors.Is) by the errors of malformed query
// parameters: a server answers them with 400.
var ErrBadRequest = errors.New("bad request")

// ParamError reports a malformed query parameter.
type ParamError struct {
	Param  string // "limit", "cursor"
	Reason string
}

func (e *ParamError) Error() string { return fmt.Sprintf("%s: %s", e.Param, e.Reason) }

// Unwrap makes a *ParamError match ErrBadRequest.
func (e *ParamError) Unwrap() error { return ErrBadRequest }

// Limits of a search page.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	// maxCursor bounds the length of a cursor (a module path, encoded).
	maxCursor = 4096
)

// Query is a search. An empty Query lists every module.
type Query struct {
	Q      string // case-insensitive substring of the module path; "" for any
	Prefix string // case-insensitive prefix of the module path; "" for any
	Limit  int    // results per page, 1..MaxLimit; 0 means DefaultLimit
	Cursor string // from SearchResult.Next, to get the page after it
}

// ParseQuery reads a Query from URL query parameters q, prefix, limit and
// cursor, as GET /api/v1/modules takes them. A bad limit is a *ParamError;
// the cursor is checked by Search.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Q: v.Get("q"), Prefix: v.Get("prefix"), Cursor: v.Get("cursor")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, &ParamError{Param: "limit", Reason: fmt.Sprintf("not a number (1 to %d)", MaxLimit)}
		}
		if n <= 0 {
			return q, &ParamError{Param: "limit", Reason: fmt.Sprintf("must be 1 to %d", MaxLimit)}
		}
		q.Limit = n
	}
	return q, nil
}

// SearchResult is one page of search results; Summary is a module in
// them.
type (
	SearchResult = api.SearchResult
	Summary      = api.ModuleSummary
)

// encodeCursor makes the cursor of the page after path.
func encodeCursor(path string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{1}, path...))
}

// decodeCursor returns the module path a cursor continues after.
func decodeCursor(s string) (string, error) {
	if len(s) > maxCursor {
		return "", &ParamError{Param: "cursor", Reason: "too long"}
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 1 {
		return "", &ParamError{Param: "cursor", Reason: "not a cursor this server made"}
	}
	return string(b[1:]), nil
}

// Search returns the modules whose path matches q, sorted by lower-cased
// path. Bad limits and cursors are *ParamErrors.
func (c *Catalog) Search(ctx context.Context, q Query) (*SearchResult, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return nil, &ParamError{Param: "limit", Reason: fmt.Sprintf("must be 1 to %d", MaxLimit)}
	}
	var after string
	if q.Cursor != "" {
		var err error
		if after, err = decodeCursor(q.Cursor); err != nil {
			return nil, err
		}
	}
	res := &SearchResult{Modules: []Summary{}, Partial: !c.Ready()}
	sub, pre := strings.ToLower(q.Q), strings.ToLower(q.Prefix)
	if strings.Contains(sub, "\n") || strings.Contains(pre, "\n") {
		return res, nil // no module path holds a newline
	}

	c.ensureOrder()
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.order)
	lower := func(i int) string {
		end := len(c.text)
		if i+1 < n {
			end = int(c.starts[i+1])
		}
		return c.text[c.starts[i] : end-1]
	}
	lo, hi := 0, n
	if pre != "" {
		lo = sort.Search(n, func(i int) bool { return lower(i) >= pre })
		hi = lo + sort.Search(n-lo, func(j int) bool {
			l := lower(lo + j)
			return l > pre && !strings.HasPrefix(l, pre)
		})
	}
	if q.Cursor != "" {
		al := strings.ToLower(after)
		start := sort.Search(n, func(i int) bool {
			l := lower(i)
			return l > al || l == al && c.order[i] > after
		})
		lo = max(lo, start)
	}
	var hits []int
	if sub == "" {
		for i := lo; i < hi && len(hits) <= limit; i++ {
			hits = append(hits, i)
		}
	} else if len(sub) >= 3 {
		hits = c.searchGrams(sub, lo, hi, limit+1)
	} else if lo < hi {
		end := len(c.text)
		if hi < n {
			end = int(c.starts[hi])
		}
		pos := int(c.starts[lo])
		for len(hits) <= limit && pos < end {
			k := strings.Index(c.text[pos:end], sub)
			if k < 0 {
				break
			}
			// The entry holding the match: the last start at or before it.
			at := pos + k
			i := sort.Search(n, func(i int) bool { return int(c.starts[i]) > at }) - 1
			hits = append(hits, i)
			if i+1 >= n {
				break
			}
			pos = int(c.starts[i+1])
		}
	}
	if len(hits) > limit {
		hits = hits[:limit]
		res.Next = encodeCursor(c.order[hits[limit-1]])
	}
	for _, i := range hits {
		if m := c.mods[c.order[i]]; m != nil { // nil: removed since the order was built
			res.Modules = append(res.Modules, summarize(m))
		}
	}
	return res, nil
}

// searchGrams returns the positions in [lo, hi) of the first max paths
// (in order) whose lower-cased text holds sub, of three bytes or more: it
// checks only the paths that hold sub's rarest trigram, so that its cost
// follows the matches, not the size of the store. c.mu must be held.
func (c *Catalog) searchGrams(sub string, lo, hi, max int) []int {
	var cand []int32
	for j := 0; j+3 <= len(sub); j++ {
		list, ok := c.grams[trigram(sub, j)]
		if !ok {
			return nil // no path holds this trigram
		}
		if cand == nil || len(list) < len(cand) {
			cand = list
		}
	}
	var hits []int
	at, _ := slices.BinarySearch(cand, int32(lo))
	for _, i := range cand[at:] {
		if int(i) >= hi || len(hits) >= max {
			break
		}
		end := len(c.text)
		if int(i)+1 < len(c.starts) {
			end = int(c.starts[i+1])
		}
		if strings.Contains(c.text[c.starts[i]:end-1], sub) {
			hits = append(hits, int(i))
		}
	}
	return hits
}

func summarize(m *modEntry) Summary {
	s := Summary{Path: m.path, Latest: m.latest, Deprecated: m.isDepr}
	for i := range m.vers {
		if m.vers[i].goModOnly() {
			s.GoModOnly++
		} else {
			s.Versions++
		}
	}
	return s
}

// ensureOrder rebuilds the search order if modules came or went.
func (c *Catalog) ensureOrder() {
	c.mu.RLock()
	dirty := c.orderDirty
	c.mu.RUnlock()
	if !dirty {
		return
	}
	c.mu.Lock()
	if c.orderDirty {
		c.rebuildOrder()
	}
	c.mu.Unlock()
}
