package audit

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// A Filter selects entries. Its zero value selects all of them; each set
// field narrows the selection.
type Filter struct {
	Action string    // exact action, e.g. ActionPublish; "" for any
	Actor  string    // exact actor; "" for any
	Target string    // substring of the target; "" for any
	Since  time.Time // entries at or after Since; zero for no bound
	Until  time.Time // entries before Until; zero for no bound
}

// Match reports whether f selects e.
func (f Filter) Match(e Entry) bool {
	switch {
	case f.Action != "" && e.Action != f.Action:
		return false
	case f.Actor != "" && e.Actor != f.Actor:
		return false
	case f.Target != "" && !strings.Contains(e.Target, f.Target):
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	}
	return true
}

// Read parses a log and returns the entries f selects, oldest first. It
// does not check the chain (use Verify), but it rejects lines that are not
// entries. A final line without a newline, such as an append in progress
// read without the lock, is ignored.
func Read(r io.Reader, f Filter) ([]Entry, error) {
	lr := newLineReader(r)
	var out []Entry
	for n := 1; ; n++ {
		line, err := lr.next()
		if err == io.EOF {
			return out, nil
		}
		if errors.Is(err, errNoNewline) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("audit log: line %d: %w", n, err)
		}
		e, err := ParseLine(line)
		if err != nil {
			return out, fmt.Errorf("audit log: line %d: %v", n, err)
		}
		if f.Match(e) {
			out = append(out, e)
		}
	}
}

// Unconfirmed reads a log and returns its intents (entries with Result
// ResultPending) that no later entry records the outcome of, oldest
// first: operations that were begun but whose outcome the log does not
// know (a crash, or a disk that stayed full). It does not check the chain.
func Unconfirmed(r io.Reader) ([]Entry, error) {
	lr := newLineReader(r)
	open := map[string]Entry{}
	var order []string
	for n := 1; ; n++ {
		line, err := lr.next()
		if err == io.EOF || errors.Is(err, errNoNewline) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("audit log: line %d: %w", n, err)
		}
		e, err := ParseLine(line)
		if err != nil {
			return nil, fmt.Errorf("audit log: line %d: %v", n, err)
		}
		if e.Result == ResultPending {
			seq := strconv.FormatInt(e.Seq, 10)
			open[seq] = e
			order = append(order, seq)
		} else if seq, ok := e.Detail["intent"]; ok {
			delete(open, seq)
		}
	}
	var out []Entry
	for _, seq := range order {
		if e, ok := open[seq]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}
