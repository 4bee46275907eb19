package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/modferry/modferry/internal/store"
)

var (
	// ErrUnavailable is matched by errors of requests that could not
	// reach the endpoint (connection refused, reset, timed out) or that
	// it answered with a server error (5xx) after the SDK's retries.
	ErrUnavailable = errors.New("S3 endpoint unavailable")
	// ErrAccessDenied is matched by errors of requests the endpoint
	// refused: unknown access key, wrong secret key, no permission.
	ErrAccessDenied = errors.New("S3 access denied")
	// ErrNoBucket is matched by errors of requests on a bucket that
	// does not exist.
	ErrNoBucket = errors.New("S3 bucket does not exist")
)

// Error is a failed S3 request.
type Error struct {
	Op       string // the Store method: "open", "put", "list"…
	Name     string // the object or directory, if any
	Bucket   string
	Endpoint string // where the request went
	// Kind is the class of failure: ErrUnavailable, ErrAccessDenied,
	// ErrNoBucket, fs.ErrNotExist, fs.ErrExist, store.ErrChanged, or nil
	// for any other.
	Kind error
	Err  error // the SDK's error

	hint string // said after the cause
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 %s", e.Op)
	if e.Name != "" {
		fmt.Fprintf(&b, " %s", e.Name)
	}
	switch e.Kind {
	case ErrUnavailable:
		fmt.Fprintf(&b, ": S3 endpoint %s unavailable: %s", e.Endpoint, cause(e.Err))
	case ErrAccessDenied:
		fmt.Fprintf(&b, ": access to bucket %q denied by %s: %s (check the credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE)", e.Bucket, e.Endpoint, cause(e.Err))
	case ErrNoBucket:
		fmt.Fprintf(&b, ": bucket %q does not exist at %s: create it first", e.Bucket, e.Endpoint)
	case fs.ErrNotExist:
		b.WriteString(": no such object")
	case fs.ErrExist:
		b.WriteString(": object exists")
	case store.ErrChanged:
		b.WriteString(": object changed")
	default:
		fmt.Fprintf(&b, ": %s answered %s", e.Endpoint, cause(e.Err))
	}
	if e.hint != "" {
		fmt.Fprintf(&b, " (%s)", e.hint)
	}
	return b.String()
}

// Unwrap returns the class of the failure and the SDK's error; an
// unavailable endpoint matches store.ErrUnavailable too.
func (e *Error) Unwrap() []error {
	switch e.Kind {
	case nil:
		return []error{e.Err}
	case ErrUnavailable:
		return []error{e.Kind, store.ErrUnavailable, e.Err}
	}
	return []error{e.Kind, e.Err}
}

// cause is the informative part of an SDK error, on one line: the API
// error's code and message, or the network error, without the SDK's
// "operation error S3: …, https response error …" framing.
func cause(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		msg := api.ErrorCode()
		if m := api.ErrorMessage(); m != "" {
			msg += ": " + m
		}
		if status := httpStatus(err); status != 0 {
			msg += fmt.Sprintf(" (HTTP %d)", status)
		}
		return oneLine(msg)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return oneLine(op.Error())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return oneLine(ue.Err.Error())
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// wrap classifies an SDK error of operation op on the object or
// directory name. Context errors pass through unclassified.
func (s *Store) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Name: name, Bucket: s.bucket, Endpoint: s.endpoint, Err: err}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			e.Endpoint = u.Scheme + "://" + u.Host
		}
	}
	status := httpStatus(err)
	code := apiCode(err)
	var send *smithyhttp.RequestSendError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
	case code == "NoSuchBucket":
		e.Kind = ErrNoBucket
	case code == "NoSuchKey" || code == "NotFound" || status == 404:
		e.Kind = fs.ErrNotExist
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" ||
		code == "InvalidToken" || code == "ExpiredToken" || status == 401 || status == 403:
		e.Kind = ErrAccessDenied
	case errors.As(err, &send) || status >= 500:
		e.Kind = ErrUnavailable
	}
	return e
}

// wrapBody classifies an error reading a response body: a connection
// lost in the middle of it makes ErrUnavailable.
func (s *Store) wrapBody(op, name string, err error) error {
	var ne net.Error
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &ne) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return &Error{Op: op, Name: name, Bucket: s.bucket, Endpoint: s.endpoint, Kind: ErrUnavailable, Err: err}
	}
	return s.wrap(op, name, err)
}

// isPrecondition reports whether err is S3's refusal of a conditional
// write (412), and isConflict whether it is the 409 that asks to retry a
// conditional write that raced with another.
func isPrecondition(err error) bool {
	return apiCode(err) == "PreconditionFailed" || httpStatus(err) == 412
}

func isConflict(err error) bool {
	return apiCode(err) == "ConditionalRequestConflict" || httpStatus(err) == 409
}
