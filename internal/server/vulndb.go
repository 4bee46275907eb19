package server

import (
	"context"

	"github.com/modferry/modferry/internal/api"
)

// withVulns marks res with the entries of the store's vulnerability
// database that affect it; without a database it is left as is.
func (s *Server) withVulns(ctx context.Context, res api.Result) api.VersionInfo {
	out := api.VersionInfo{Result: res}
	db, err := s.vulns.Get(ctx, s.store)
	if err != nil {
		return out
	}
	out.Vulnerabilities = db.Findings(res.Path, []string{res.Version}, false)
	return out
}
