package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// The HTTP API for publishing and deleting, served by package server:
//
//	PUT    /api/v1/modules/<escaped path>/@v/<escaped version>    write scope
//	       multipart/form-data: part "mod" (the .mod), part "zip" (the
//	       module zip, exactly one zip archive; stored as x/mod/zip
//	       re-creates it), optional part "time" (RFC 3339; default: now),
//	       each part once
//	       201 Result; 400 invalid module or body; 408 too slow; 409
//	       version exists, was deleted or is being published; 413 too
//	       large; 429 too many uploads; 507 disk full
//	DELETE /api/v1/modules/<escaped path>/@v/<escaped version>?reason=TEXT
//	       delete scope; 200 Deleted; 400 no reason; 404 no such version
//	GET    /api/v1/modules/<escaped path>/@v/<escaped version>    read scope
//	       200 Result; 404; 410 Deleted
//
// Errors have a JSON body {"error":"..."}.

// APIPath returns the API path of a module version.
func APIPath(v module.Version) (string, error) {
	ep, err := module.EscapePath(v.Path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(v.Version)
	if err != nil {
		return "", err
	}
	return "/api/v1/modules/" + ep + "/@v/" + ev, nil
}

// Result describes a published version.
type Result struct {
	Path    string    `json:"path"`
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	Hash    string    `json:"h1"`      // the zip's h1: hash (go.sum)
	ModHash string    `json:"goModH1"` // the go.mod's h1: hash (go.sum)
}

// ResultOf returns the Result describing m.
func ResultOf(m *Module) Result {
	return Result{Path: m.Version.Path, Version: m.Version.Version, Time: m.Time.UTC().Truncate(time.Second), Hash: m.Hash, ModHash: m.ModHash}
}

// Deleted describes a deleted version.
type Deleted struct {
	Path    string    `json:"path"`
	Version string    `json:"version"`
	Time    time.Time `json:"deleted"`
	Actor   string    `json:"actor,omitempty"`
	Reason  string    `json:"reason"`
}

// APIError is the body of an API error response.
type APIError struct {
	Error string `json:"error"`
}

// A RemoteError is an error answer from a modferry server.
type RemoteError struct {
	Status  int    // HTTP status code
	Message string // the server's message
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// A Remote is a modferry server to publish to and delete from.
type Remote struct {
	URL    string       // base URL, such as https://modferry.internal
	Token  string       // sent as Authorization: Bearer
	Client *http.Client // nil means http.DefaultClient
}

func (r *Remote) do(ctx context.Context, method string, v module.Version, query url.Values, body io.Reader, contentType string, out any) error {
	p, err := APIPath(v)
	if err != nil {
		return err
	}
	return r.doPath(ctx, method, p, query, body, contentType, out)
}

// BundlesPath is the API path bundles are uploaded to.
const BundlesPath = "/api/v1/bundles"

// PostBundle uploads a bundle file for the server to verify and import
// (write scope), decoding the server's answer into out.
func (r *Remote) PostBundle(ctx context.Context, file string, out any) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return r.doPath(ctx, http.MethodPost, BundlesPath, nil, f, "application/zstd", out)
}

func (r *Remote) doPath(ctx context.Context, method, p string, query url.Values, body io.Reader, contentType string, out any) error {
	u := strings.TrimSuffix(r.URL, "/") + p
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
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var ae APIError
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &ae) == nil && ae.Error != "" {
			msg = ae.Error
		}
		return &RemoteError{Status: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: reading the answer: %v", method, u, err)
		}
	}
	return nil
}

// Upload publishes m on the server. The server checks it again, exactly as
// Publish does locally.
func (r *Remote) Upload(ctx context.Context, m *Module) (Result, error) {
	zf, err := os.Open(m.ZipPath)
	if err != nil {
		return Result{}, err
	}
	defer zf.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeUpload(mw, m, zf))
	}()
	var res Result
	err = r.do(ctx, http.MethodPut, m.Version, nil, pr, mw.FormDataContentType(), &res)
	pr.CloseWithError(io.ErrClosedPipe) // stop the writer if the request ended early
	return res, err
}

func writeUpload(mw *multipart.Writer, m *Module, zip io.Reader) error {
	if err := mw.WriteField("time", m.Time.UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	w, err := mw.CreateFormFile("mod", "go.mod")
	if err != nil {
		return err
	}
	if _, err := w.Write(m.Mod); err != nil {
		return err
	}
	w, err = mw.CreateFormFile("zip", m.Version.Version+".zip")
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, zip); err != nil {
		return err
	}
	return mw.Close()
}

// Delete deletes v on the server, giving reason.
func (r *Remote) Delete(ctx context.Context, v module.Version, reason string) (Deleted, error) {
	var d Deleted
	err := r.do(ctx, http.MethodDelete, v, url.Values{"reason": {reason}}, nil, "", &d)
	return d, err
}
