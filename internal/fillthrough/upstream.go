package fillthrough

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
)

// NotFoundError is an upstream's 404 or 410 answer. It matches
// fs.ErrNotExist.
type NotFoundError struct {
	URL    string
	Status int
	Msg    string // the upstream's message, first line
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("upstream %s: %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Msg)
}

// Is reports whether target is fs.ErrNotExist.
func (e *NotFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// UnavailableError is an upstream that could not answer: a network error,
// a timeout, or a status other than 200, 404 and 410. Clients get 502, or
// 504 for a timeout.
type UnavailableError struct {
	URL     string
	Timeout bool
	Err     error
}

func (e *UnavailableError) Error() string { return fmt.Sprintf("upstream %s: %v", e.URL, e.Err) }
func (e *UnavailableError) Unwrap() error { return e.Err }

// upstream GETs files from a base URL.
type upstream struct {
	base   string
	client *http.Client
}

// open GETs base/p and returns the 200 response's body; any other answer
// is a *NotFoundError or *UnavailableError.
func (u *upstream) open(ctx context.Context, p string) (io.ReadCloser, error) {
	url := u.base + "/" + p
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := u.client.Do(req)
	if err != nil {
		var ne net.Error
		timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
		return nil, &UnavailableError{URL: url, Timeout: timeout, Err: err}
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	first, _, _ := strings.Cut(strings.TrimSpace(string(msg)), "\n")
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return nil, &NotFoundError{URL: url, Status: resp.StatusCode, Msg: first}
	case http.StatusGatewayTimeout:
		return nil, &UnavailableError{URL: url, Timeout: true, Err: fmt.Errorf("%s: %s", resp.Status, first)}
	}
	return nil, &UnavailableError{URL: url, Err: fmt.Errorf("%s: %s", resp.Status, first)}
}

// get is open that reads the whole body, at most limit bytes.
func (u *upstream) get(ctx context.Context, p string, limit int64) ([]byte, error) {
	body, err := u.open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, &UnavailableError{URL: u.base + "/" + p, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &UnavailableError{URL: u.base + "/" + p, Err: fmt.Errorf("larger than %d bytes", limit)}
	}
	return data, nil
}
