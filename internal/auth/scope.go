package auth

import (
	"fmt"
	"slices"
	"strings"
)

// A Scope is a permission a token carries.
type Scope string

// The scopes. None implies another; see the package documentation.
const (
	ScopeRead   Scope = "read"
	ScopeWrite  Scope = "write"
	ScopeDelete Scope = "delete"
	ScopeAdmin  Scope = "admin"
)

// allScopes lists the scopes in their canonical order.
var allScopes = []Scope{ScopeRead, ScopeWrite, ScopeDelete, ScopeAdmin}

func (s Scope) valid() bool { return slices.Contains(allScopes, s) }

// ParseScopes parses a comma-separated list such as "read,write". Spaces
// around names are ignored; repeats are dropped; the result is in the
// canonical order read, write, delete, admin. An empty list or an unknown
// name is an error.
func ParseScopes(s string) ([]Scope, error) {
	var list []Scope
	for _, f := range strings.Split(s, ",") {
		list = append(list, Scope(strings.TrimSpace(f)))
	}
	return normalizeScopes(list)
}

// normalizeScopes checks a list and returns it sorted, without repeats.
func normalizeScopes(list []Scope) ([]Scope, error) {
	var out []Scope
	for _, s := range allScopes {
		if slices.Contains(list, s) {
			out = append(out, s)
		}
	}
	for _, s := range list {
		if !s.valid() {
			return nil, fmt.Errorf("unknown scope %q (want %s)", s, FormatScopes(allScopes))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scopes (want some of %s)", FormatScopes(allScopes))
	}
	return out, nil
}

// FormatScopes returns the list as ParseScopes reads it: "read,write".
func FormatScopes(list []Scope) string {
	var b strings.Builder
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(s))
	}
	return b.String()
}
