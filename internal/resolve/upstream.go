package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// proxyEntry is one URL of a GOPROXY list.
type proxyEntry struct {
	URL string // without trailing slash; http, https or file scheme
	// AnyError reports whether the entry was followed by '|', so that any
	// error (not only 404 and 410) falls through to the next entry.
	AnyError bool
}

// proxyList is a parsed GOPROXY list. Entries after the first "direct" or
// "off" are never reached by a proxy and are ignored.
type proxyList struct {
	Proxies []proxyEntry
	// Tail is "direct", "off" or "" (list ended): what comes after the
	// last proxy.
	Tail string
	// TailAnyError reports whether the separator before Tail was '|'.
	TailAnyError bool
}

// parseProxyList parses a GOPROXY value with the go command's rules.
func parseProxyList(s string) (proxyList, error) {
	var l proxyList
	s = strings.TrimSpace(s)
	if s == "" {
		return l, errors.New("empty GOPROXY list")
	}
	for s != "" {
		i := strings.IndexAny(s, ",|")
		elem, anyErr := s, false
		if i >= 0 {
			elem, anyErr = s[:i], s[i] == '|'
			s = s[i+1:]
		} else {
			s = ""
		}
		elem = strings.TrimSpace(elem)
		switch elem {
		case "":
			continue
		case "direct", "off", "noproxy":
			if elem == "noproxy" {
				elem = "direct"
			}
			if n := len(l.Proxies); n > 0 {
				l.TailAnyError = l.Proxies[n-1].AnyError
			}
			l.Tail = elem
			return l, nil
		}
		if !strings.Contains(elem, "://") {
			elem = "https://" + elem
		}
		u, err := url.Parse(elem)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
			return l, fmt.Errorf("invalid GOPROXY entry %q", elem)
		}
		l.Proxies = append(l.Proxies, proxyEntry{URL: strings.TrimSuffix(elem, "/"), AnyError: anyErr})
	}
	return l, nil
}

// errNotFound is returned when every proxy answered 404 or 410.
var errNotFound = fmt.Errorf("not found on any upstream proxy: %w", fs.ErrNotExist)

// fetcher gets files from a proxy list with retries.
type fetcher struct {
	list    proxyList
	client  *http.Client
	retries int           // attempts after the first, for transient errors
	backoff time.Duration // first delay; doubles each retry
}

// upstreamError is a non-404 failure of one proxy.
type upstreamError struct {
	URL    string
	Status int // 0 for transport errors
	Err    error
}

func (e *upstreamError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("GET %s: %s", e.URL, http.StatusText(e.Status))
	}
	return fmt.Sprintf("GET %s: %v", e.URL, e.Err)
}

func (e *upstreamError) Unwrap() error { return e.Err }

// get fetches name (relative, slash-separated, no leading slash) from the
// list and calls use with the body. It follows the ',' and '|' rules. use
// may be called more than once if a body fails half way; it must start
// over each time.
func (f *fetcher) get(ctx context.Context, name string, use func(io.Reader) error) error {
	var last error = errNotFound
	for _, p := range f.list.Proxies {
		err := f.getOne(ctx, p.URL+"/"+name, use)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		if errors.Is(err, fs.ErrNotExist) || p.AnyError {
			continue
		}
		return err
	}
	return last
}

// getOne fetches one URL with retries on transient errors.
func (f *fetcher) getOne(ctx context.Context, u string, use func(io.Reader) error) error {
	delay := f.backoff
	for attempt := 0; ; attempt++ {
		err := f.try(ctx, u, use)
		if err == nil || !transient(err) || attempt >= f.retries || ctx.Err() != nil {
			return err
		}
		d := delay/2 + rand.N(delay/2+1) // jitter
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		delay *= 2
	}
}

func (f *fetcher) try(ctx context.Context, u string, use func(io.Reader) error) error {
	if rest, ok := strings.CutPrefix(u, "file://"); ok {
		file, err := os.Open(filepath.FromSlash(rest))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s: %w", u, errNotFound)
			}
			return &upstreamError{URL: u, Err: err}
		}
		defer file.Close()
		return use(file)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return &upstreamError{URL: u, Err: err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%s: %w", u, errNotFound)
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return &upstreamError{URL: u, Status: resp.StatusCode}
	}
	if err := use(resp.Body); err != nil {
		var ue *upstreamError
		if errors.As(err, &ue) {
			return err
		}
		// A body cut short is a transport problem worth retrying.
		return &upstreamError{URL: u, Err: err}
	}
	return nil
}

// transient reports whether err deserves a retry: 5xx, 429, timeouts and
// connection errors, but never 404 or 410.
func transient(err error) bool {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, context.Canceled) {
		return false
	}
	var ue *upstreamError
	if !errors.As(err, &ue) {
		return false
	}
	if ue.Status != 0 {
		return ue.Status >= 500 || ue.Status == http.StatusTooManyRequests || ue.Status == http.StatusRequestTimeout
	}
	var ne net.Error
	if errors.As(ue.Err, &ne) {
		return true
	}
	return ue.Err != nil && !errors.Is(ue.Err, fs.ErrPermission)
}
