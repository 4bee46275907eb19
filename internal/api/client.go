package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// An Error is an error answer from a modferry server.
type Error struct {
	Status   int    // HTTP status code
	Message  string // the server's message: ErrorBody.Error, else the body
	Security bool   // ErrorBody.Security: the server found evidence of tampering
}

// ErrSecurity is matched by an *Error whose answer says the server found
// evidence of tampering (ErrorBody.Security).
var ErrSecurity = errors.New("the server found evidence of tampering")

// Is makes an *Error with Security set match ErrSecurity.
func (e *Error) Is(target error) bool { return target == ErrSecurity && e.Security }

func (e *Error) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// maxAnswer bounds the answer a Client reads.
const maxAnswer = 1 << 20

// A Client calls a modferry server's API.
type Client struct {
	URL   string       // base URL, such as https://modferry.internal
	Token string       // sent as Authorization: Bearer; "" sends none
	HTTP  *http.Client // nil means http.DefaultClient
}

// Publish uploads a module version: its .mod, its module zip and the time
// for its .info (write scope). The server checks it again, exactly as a
// local publish does.
func (c *Client) Publish(ctx context.Context, v module.Version, mod []byte, zip io.Reader, t time.Time) (Result, error) {
	p, err := VersionPath(v)
	if err != nil {
		return Result{}, err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeUpload(mw, v, mod, zip, t))
	}()
	var res Result
	err = c.do(ctx, http.MethodPut, p, nil, pr, mw.FormDataContentType(), &res)
	pr.CloseWithError(io.ErrClosedPipe) // stop the writer if the request ended early
	return res, err
}

func writeUpload(mw *multipart.Writer, v module.Version, mod []byte, zip io.Reader, t time.Time) error {
	if err := mw.WriteField(PartTime, t.UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	w, err := mw.CreateFormFile(PartMod, "go.mod")
	if err != nil {
		return err
	}
	if _, err := w.Write(mod); err != nil {
		return err
	}
	w, err = mw.CreateFormFile(PartZip, v.Version+".zip")
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, zip); err != nil {
		return err
	}
	return mw.Close()
}

// Delete deletes v on the server, giving reason (delete scope).
func (c *Client) Delete(ctx context.Context, v module.Version, reason string) (Deleted, error) {
	p, err := VersionPath(v)
	if err != nil {
		return Deleted{}, err
	}
	var d Deleted
	err = c.do(ctx, http.MethodDelete, p, url.Values{ReasonParam: {reason}}, nil, "", &d)
	return d, err
}

// PostBundle uploads a bundle for the server to verify and import (write
// scope), decoding its answer, an importer.Result, into out.
func (c *Client) PostBundle(ctx context.Context, bundle io.Reader, out any) error {
	return c.do(ctx, http.MethodPost, BundlesPath, nil, bundle, "application/zstd", out)
}

// do sends a request to path p and decodes a 2xx answer into out, unless
// out is nil; any other answer is an *Error.
func (c *Client) do(ctx context.Context, method, p string, query url.Values, body io.Reader, contentType string, out any) error {
	u := strings.TrimSuffix(c.URL, "/") + p
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return errorOf(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: reading the answer: %v", method, u, err)
		}
	}
	return nil
}

// errorOf is the *Error of an answer with status code and body data: the
// message of an ErrorBody, else the body as text (an answer from the
// access control, or from a reverse proxy).
func errorOf(code int, data []byte) *Error {
	var eb ErrorBody
	msg, sec := strings.TrimSpace(string(data)), false
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		msg, sec = eb.Error, eb.Security
	}
	return &Error{Status: code, Message: msg, Security: sec}
}

// Search asks the server's metadata API for one page of modules whose
// path contains q and starts with prefix (both case-insensitive; "" for
// any), at most limit (0: the server's default), after cursor (a
// SearchResult.Next; "" for the first page). Read scope.
func (c *Client) Search(ctx context.Context, q, prefix string, limit int, cursor string) (*SearchResult, error) {
	v := url.Values{}
	for k, s := range map[string]string{"q": q, "prefix": prefix, "cursor": cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var res SearchResult
	return &res, c.do(ctx, http.MethodGet, SearchPath, v, nil, "", &res)
}

// Module returns the server's page of a module; version, if set, picks
// the go.mod whose requirements it lists (and must be stored). An unknown
// module is an *Error with Status 404. Read scope.
func (c *Client) Module(ctx context.Context, path, version string) (*Module, error) {
	p, err := ModulePath(path)
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	if version != "" {
		v.Set("version", version)
	}
	var m Module
	return &m, c.do(ctx, http.MethodGet, p, v, nil, "", &m)
}

// Bundles returns the server's import history. Read scope.
func (c *Client) Bundles(ctx context.Context) (*BundleList, error) {
	var l BundleList
	return &l, c.do(ctx, http.MethodGet, BundlesPath, nil, nil, "", &l)
}

// Stats returns the server's store statistics. Read scope.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var s Stats
	return &s, c.do(ctx, http.MethodGet, StatsPath, nil, nil, "", &s)
}
