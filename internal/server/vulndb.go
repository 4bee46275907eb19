package server

import (
	"context"

	"github.com/modferry/modferry/internal/publish"
	"github.com/modferry/modferry/internal/vulndb"
)

// versionInfo is the API's description of a stored version: the publish
// result, and the known vulnerabilities affecting it when the store holds
// a vulnerability database.
type versionInfo struct {
	publish.Result
	Vulnerabilities []vulndb.Finding `json:"vulnerabilities,omitempty"`
}

// withVulns marks res with the entries of the store's vulnerability
// database that affect it; without a database it is left as is.
func (s *Server) withVulns(ctx context.Context, res publish.Result) versionInfo {
	out := versionInfo{Result: res}
	db, err := s.vulns.Get(ctx, s.store)
	if err != nil {
		return out
	}
	out.Vulnerabilities = db.Findings(res.Path, []string{res.Version}, false)
	return out
}
