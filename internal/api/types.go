package api

import (
	"time"

	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/vulndb"
)

// Result describes a published version: the answer to a publish.
type Result struct {
	Path    string    `json:"path"`
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	Hash    string    `json:"h1"`      // the zip's h1: hash (go.sum)
	ModHash string    `json:"goModH1"` // the go.mod's h1: hash (go.sum)
}

// VersionInfo describes a stored version (GET): its Result, and the known
// vulnerabilities affecting it when the store holds a vulnerability
// database.
type VersionInfo struct {
	Result
	Vulnerabilities []vulndb.Finding `json:"vulnerabilities,omitempty"`
}

// Deleted describes a deleted version: the answer to a delete, and the
// body of a 410 for a deleted version.
type Deleted struct {
	Path    string    `json:"path"`
	Version string    `json:"version"`
	Time    time.Time `json:"deleted"`
	Actor   string    `json:"actor,omitempty"`
	Reason  string    `json:"reason"`
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name    string       `json:"name"`
	Scopes  []auth.Scope `json:"scopes"`
	Expires time.Time    `json:"expires,omitzero"`
}

// TokenCreated answers POST /api/v1/tokens. The secret is shown only here.
type TokenCreated struct {
	Name    string       `json:"name"`
	Scopes  []auth.Scope `json:"scopes"`
	Expires time.Time    `json:"expires,omitzero"`
	Secret  string       `json:"secret"`
}

// TokenRevoked answers DELETE /api/v1/tokens/<name>.
type TokenRevoked struct {
	Name string `json:"name"`
}

// ErrorBody is the body of every API error answer.
type ErrorBody struct {
	Error string `json:"error"`
	// Security is set when the failure is evidence of tampering (a bad
	// signature, a hash mismatch, a failed checksum-database proof):
	// the client then exits 3, as for the same failure locally.
	Security bool `json:"security,omitempty"`
}
