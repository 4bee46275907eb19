package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modferry/modferry/internal/digest"
)

// Actions recorded by modferry. Entry.Action is a plain string so that a
// newer modferry can record actions an older one does not know; these are
// the ones in use.
const (
	ActionImport      = "import"        // a bundle or module cache imported into the store
	ActionPublish     = "publish"       // a private module version published
	ActionDelete      = "delete"        // a module version deleted
	ActionPrune       = "prune"         // a module version removed by prune (as a delete, with prune's reason)
	ActionTokenAdd    = "token.add"     // an access token created
	ActionTokenRevoke = "token.revoke"  // an access token revoked
	ActionAuthFailure = "auth.failure"  // a summary of failed authentications over a period, not one per request
	ActionServerStart = "server.start"  // the server started serving
	ActionServerStop  = "server.stop"   // the server stopped
	ActionRecover     = "audit.recover" // the log repaired itself: a torn last line cut off, or entries lost
)

// ActorAudit is the actor of the entries the log writes about itself.
const ActorAudit = "audit"

// Results.
const (
	ResultOK     = "ok"     // the operation succeeded
	ResultDenied = "denied" // the operation was refused (authentication, scope, limiter)
	ResultError  = "error"  // the operation failed
	// ResultPending marks an intent, written by [Log.Begin] before the
	// operation is carried out; a later entry with the same action and
	// target and Detail "intent" set to the intent's seq records the outcome.
	ResultPending = "pending"
)

// Genesis is the prev of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxLineSize is the largest line, in bytes without its newline, that
// Append writes and Verify and Read accept.
const MaxLineSize = 64 << 10

// An Entry is one line of the log.
//
// Seq and Prev are set by [Log.Append]; whatever the caller puts there is
// ignored. Time is set to the current time if zero, and stored in UTC.
type Entry struct {
	Seq    int64             `json:"seq"`
	Time   time.Time         `json:"time"`
	Actor  string            `json:"actor"`            // who: "token:NAME", "cli:USER", "server"
	Action string            `json:"action"`           // one of the Action constants
	Target string            `json:"target"`           // what: module@version, token name, bundle file; may be empty
	Result string            `json:"result"`           // one of the Result constants
	Detail map[string]string `json:"detail,omitempty"` // optional extra facts
	Prev   string            `json:"prev"`             // hex SHA-256 of the previous line, or Genesis
}

// check reports whether e has what every entry needs.
func (e *Entry) check() error {
	switch {
	case e.Seq < 1:
		return fmt.Errorf("seq %d is not positive", e.Seq)
	case e.Time.IsZero():
		return errors.New("time is missing")
	case e.Action == "":
		return errors.New("action is missing")
	case e.Actor == "":
		return errors.New("actor is missing")
	case e.Result == "":
		return errors.New("result is missing")
	case !digest.IsHex(e.Prev):
		return fmt.Errorf("prev %q is not a lower-case hex SHA-256", e.Prev)
	}
	return nil
}

// hashLine returns the hex SHA-256 of a line without its newline.
func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// ParseLine decodes one line of a log (without its newline) strictly: one JSON
// object, no unknown fields, nothing after it, and the fields every entry
// needs.
func ParseLine(line []byte) (Entry, error) {
	var e Entry
	if len(line) == 0 {
		return e, errors.New("empty line")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("not a valid entry: %v", err)
	}
	if dec.InputOffset() != int64(len(line)) {
		return e, errors.New("data after the entry")
	}
	if err := e.check(); err != nil {
		return e, err
	}
	return e, nil
}

// encodeLine returns e's line, without a newline.
func encodeLine(e Entry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxLineSize {
		return nil, fmt.Errorf("entry is %d bytes, over the limit of %d", len(b), MaxLineSize)
	}
	if bytes.IndexByte(b, '\n') >= 0 { // json.Marshal escapes newlines; be sure
		return nil, errors.New("entry encodes with a newline")
	}
	return b, nil
}

func cloneDetail(d map[string]string) map[string]string {
	if d == nil {
		return nil
	}
	c := make(map[string]string, len(d))
	for k, v := range d {
		c[k] = v
	}
	return c
}
