package server

import (
	"context"
	_ "embed"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/catalog"
)

// The metadata API: search, module pages, the import history and store
// statistics, answered from the catalog (package catalog), all GET with
// read scope; the OpenAPI document describing it; and the catalog's
// refreshes after this server's own changes.

// openAPI is the API's OpenAPI 3.1 document, served at api.OpenAPIPath.
//
//go:embed openapi/openapi.json
var openAPI []byte

// apiOpenAPI serves the OpenAPI document. It needs no token: it describes
// the API (including which scope each operation needs), says nothing
// about what the store holds, and a client or tool reads it to learn how
// to authenticate.
func apiOpenAPI(w http.ResponseWriter, r *http.Request, _ string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	w.Write(openAPI)
}

// apiSearch answers GET api.SearchPath?q=&prefix=&limit=&cursor=.
func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request, _ string) {
	q, err := catalog.ParseQuery(r.URL.Query())
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	res, err := s.catalog.Search(r.Context(), q)
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// apiModuleGET answers a GET under api.ModulesPath: a module version when
// the path holds "/@v/" (the route that predates module pages), else a
// module page.
func (s *Server) apiModuleGET(w http.ResponseWriter, r *http.Request, token string) {
	rest := r.PathValue("rest")
	if strings.Contains(rest, "/@v/") {
		r.SetPathValue("version", rest)
		withVersion(s.apiVersion)(w, r, token)
		return
	}
	s.apiModule(w, r, rest)
}

// apiModule answers GET api.ModulesPath + "<escaped module path>"
// [?version=V][&dependents=N]: the module's page, with the requirements
// of version V (default: the latest) and at most N dependents (default
// 100, -1 for all).
func (s *Server) apiModule(w http.ResponseWriter, r *http.Request, escaped string) {
	path, err := module.UnescapePath(strings.TrimSuffix(escaped, "/"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "want "+api.ModulesPath+"<escaped module path> (upper-case letters as !lower-case): "+err.Error())
		return
	}
	qv := r.URL.Query()
	opts := catalog.ModuleOptions{Version: qv.Get("version")}
	if d := qv.Get("dependents"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < -1 || n == 0 {
			apiError(w, http.StatusBadRequest, "dependents: want a positive number, or -1 for all")
			return
		}
		opts.MaxDependents = n
	}
	m, err := s.catalog.Module(r.Context(), path, opts)
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// apiBundles answers GET api.BundlesPath: the import history.
func (s *Server) apiBundles(w http.ResponseWriter, r *http.Request, _ string) {
	bs, err := s.catalog.Bundles(r.Context())
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.BundleList{Bundles: bs})
}

// apiBundle answers GET api.BundlePath(digest): one import, with its
// manifest.
func (s *Server) apiBundle(w http.ResponseWriter, r *http.Request, _ string) {
	b, err := s.catalog.Bundle(r.Context(), r.PathValue("digest"))
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// apiBundleFile answers GET api.BundlePath(digest) + "/" + name: the
// bundle's manifest or an SBOM its import kept, as a download.
func (s *Server) apiBundleFile(w http.ResponseWriter, r *http.Request, _ string) {
	digest, name := r.PathValue("digest"), r.PathValue("file")
	data, err := s.catalog.BundleFile(r.Context(), digest, name)
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", `attachment; filename="`+digest[:12]+"-"+name+`"`)
	w.Write(data)
}

// apiStats answers GET api.StatsPath.
func (s *Server) apiStats(w http.ResponseWriter, r *http.Request, _ string) {
	st, err := s.catalog.Stats(r.Context())
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// catalogError answers a catalog error: 404 for what the store does not
// hold, 400 for a bad parameter, else 500 (logged).
func (s *Server) catalogError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		apiError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, catalog.ErrBadRequest):
		apiError(w, http.StatusBadRequest, err.Error())
	case r.Context().Err() != nil:
		apiError(w, http.StatusServiceUnavailable, "request cancelled")
	case retryIfUnavailable(w, err):
		s.log.Warn("answering from the catalog: the store is unavailable", "path", r.URL.Path, "err", err)
		apiError(w, http.StatusServiceUnavailable, "the store cannot be reached for now; retry shortly")
	default:
		s.log.Error("answering from the catalog", "path", r.URL.Path, "err", err)
		apiError(w, http.StatusInternalServerError, "reading the store's index failed (details in the server log)")
	}
}

// refreshCatalog brings the catalog's entries for the modules this server
// just changed up to date, so that search results, dependents and
// statistics show the change at once (module pages always do).
func (s *Server) refreshCatalog(ctx context.Context, paths ...string) {
	if err := s.catalog.RefreshModules(context.WithoutCancel(ctx), paths...); err != nil {
		s.log.Warn("refreshing the catalog after a change; the periodic refresh will catch up", "err", err)
	}
}
