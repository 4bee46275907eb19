package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// ErrInvalid is matched by errors for entries or layouts that break the
// rules in the package documentation.
var ErrInvalid = errors.New("bad OSV entry or database index")

// An Entry is the part of an OSV entry that modferry reads. The stored
// entry keeps every other field.
type Entry struct {
	ID        string     `json:"id"`
	Modified  time.Time  `json:"modified"`
	Published time.Time  `json:"published"`
	Withdrawn *time.Time `json:"withdrawn,omitempty"`
	Aliases   []string   `json:"aliases,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Affected  []Affected `json:"affected"`
}

// Affected is one affected package of an entry.
type Affected struct {
	Package Package `json:"package"`
	Ranges  []Range `json:"ranges,omitempty"`
}

// Package names an affected module.
type Package struct {
	Name      string `json:"name"`
	Ecosystem string `json:"ecosystem"`
}

// A Range is a list of events; a version is affected between an
// "introduced" event and the next "fixed" one.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// An Event holds exactly one version, without the "v" prefix.
type Event struct {
	Introduced string `json:"introduced,omitempty"`
	Fixed      string `json:"fixed,omitempty"`
}

// Special package names of the Go database that are not module paths.
const (
	Stdlib    = "stdlib"
	Toolchain = "toolchain"
)

// maxEntrySize bounds one OSV entry; the largest real ones are ~100 kB.
const maxEntrySize = 4 << 20

// ValidID reports whether id may name an entry (and its file).
func ValidID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' || id[0] == '-' {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// ParseEntry decodes and checks the entry stored as ID/<id>.json.
func ParseEntry(id string, data []byte) (*Entry, error) {
	e, err := decodeEntry(id, data)
	if err != nil {
		return nil, err
	}
	if e.Modified.IsZero() {
		return nil, fmt.Errorf("%w: %s: no modified time", ErrInvalid, id)
	}
	return e, nil
}

// decodeEntry is ParseEntry without the modified-time rule, for source
// entries whose time is filled in later.
func decodeEntry(id string, data []byte) (*Entry, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: bad entry ID %q", ErrInvalid, id)
	}
	if len(data) > maxEntrySize {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, id, maxEntrySize)
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %s: not an OSV entry: %v", ErrInvalid, id, err)
	}
	if e.ID != id {
		return nil, fmt.Errorf("%w: entry %q is stored as %q", ErrInvalid, e.ID, id)
	}
	for i, a := range e.Affected {
		if err := a.check(); err != nil {
			return nil, fmt.Errorf("%w: %s: affected[%d]: %v", ErrInvalid, id, i, err)
		}
	}
	return &e, nil
}

func (a Affected) check() error {
	if a.Package.Ecosystem != "Go" {
		return fmt.Errorf("ecosystem %q, want Go", a.Package.Ecosystem)
	}
	if n := a.Package.Name; n != Stdlib && n != Toolchain {
		if err := module.CheckPath(n); err != nil {
			return err
		}
	}
	for _, r := range a.Ranges {
		if r.Type != "SEMVER" {
			return fmt.Errorf("range type %q, want SEMVER", r.Type)
		}
		for _, ev := range r.Events {
			switch {
			case (ev.Introduced == "") == (ev.Fixed == ""):
				return fmt.Errorf("an event needs exactly one of introduced and fixed")
			case ev.Introduced == "0":
			case ev.Introduced != "" && !semver.IsValid("v"+ev.Introduced),
				ev.Fixed != "" && !semver.IsValid("v"+ev.Fixed):
				return fmt.Errorf("event %+v: not a semantic version", ev)
			}
		}
	}
	return nil
}

// eventVersion returns the event's version with the "v" prefix; the
// introduced version "0" is "" (below every version).
func eventVersion(ev Event) string {
	v := ev.Introduced + ev.Fixed
	if v == "0" {
		return ""
	}
	return "v" + v
}

// compareVersions orders module versions, "" below all.
func compareVersions(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	return semver.Compare(a, b)
}

// Affects reports whether the entry affects version (with "v") of the
// module path, and if so the lowest version above it that fixes it ("" if
// none does).
func (e *Entry) Affects(path, version string) (bool, string) {
	for _, a := range e.Affected {
		if a.Package.Name != path {
			continue
		}
		if len(a.Ranges) == 0 {
			return true, "" // every version
		}
		for _, r := range a.Ranges {
			if ok, fixed := r.affects(version); ok {
				return true, fixed
			}
		}
	}
	return false, ""
}

// affects walks the events in version order: the last event at or below
// version decides.
func (r Range) affects(version string) (bool, string) {
	evs := sortedEvents(r.Events)
	affected := false
	for i, ev := range evs {
		if compareVersions(eventVersion(ev), version) > 0 {
			if affected {
				for _, next := range evs[i:] {
					if next.Fixed != "" {
						return true, eventVersion(next)
					}
				}
			}
			return affected, ""
		}
		affected = ev.Introduced != ""
	}
	return affected, ""
}

func sortedEvents(evs []Event) []Event {
	out := append([]Event(nil), evs...)
	for i := 1; i < len(out); i++ { // insertion sort: ranges hold a few events
		for j := i; j > 0 && compareVersions(eventVersion(out[j]), eventVersion(out[j-1])) < 0; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// fixedFor returns the "fixed" field of the modules index for path: the
// version without "v" from which none of the entry's affected blocks for
// path affects the module any more, or "" when one of them affects the
// newest versions (its highest event is an introduction). govulncheck
// fetches the entry only for a version below it, so each block counts on
// its own: the highest fix of one block must not hide another that was
// never fixed.
func (e *Entry) fixedFor(path string) string {
	fixed := ""
	for _, a := range e.Affected {
		if a.Package.Name != path {
			continue
		}
		if len(a.Ranges) == 0 {
			return ""
		}
		top, topFixed := "", false
		for _, r := range a.Ranges {
			for _, ev := range r.Events {
				v := eventVersion(ev)
				if c := compareVersions(v, top); c > 0 || c == 0 && ev.Introduced != "" {
					top, topFixed = v, ev.Fixed != ""
				}
			}
		}
		if !topFixed {
			return ""
		}
		if compareVersions(top, fixed) > 0 {
			fixed = top
		}
	}
	if fixed == "" {
		return ""
	}
	return fixed[1:]
}
