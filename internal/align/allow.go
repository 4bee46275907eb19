package align

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// An AllowList names intended version differences; see the package
// documentation for its format. A nil *AllowList allows nothing.
type AllowList struct {
	rules []allowRule
}

type allowRule struct {
	text     string   // the line as written, trimmed
	pattern  string   // module path glob
	versions []string // empty: any versions
}

// ReadAllowList reads an allow-list file.
func ReadAllowList(file string) (*AllowList, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	l, err := ParseAllowList(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return l, nil
}

// ParseAllowList parses the text of an allow list.
func ParseAllowList(data []byte) (*AllowList, error) {
	l := &AllowList{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		r := allowRule{text: strings.Join(fields, " "), pattern: fields[0], versions: fields[1:]}
		if strings.Contains(r.pattern, ",") {
			return nil, fmt.Errorf("line %d: one module path pattern a line, not a comma-separated list", n)
		}
		if _, err := path.Match(r.pattern, ""); err != nil {
			return nil, fmt.Errorf("line %d: pattern %q: %w", n, r.pattern, err)
		}
		for _, v := range r.versions {
			if module.CanonicalVersion(v) != v {
				return nil, fmt.Errorf("line %d: %q is not a canonical module version", n, v)
			}
		}
		l.rules = append(l.rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return l, nil
}

// allows reports whether a rule covers the skew, and which.
func (l *AllowList) allows(s *Skew) (string, bool) {
	if l == nil {
		return "", false
	}
	for _, r := range l.rules {
		if !module.MatchPrefixPatterns(r.pattern, s.Module) {
			continue
		}
		if len(r.versions) == 0 {
			return r.text, true
		}
		covered := true
		for _, u := range s.Uses {
			if !slices.Contains(r.versions, u.Version) {
				covered = false
				break
			}
		}
		if covered {
			return r.text, true
		}
	}
	return "", false
}
