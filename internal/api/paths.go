package api

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/mod/module"
)

// The API's paths.
const (
	// Prefix starts every API path.
	Prefix = "/api/"
	// ModulesPath starts the path of a module version; see VersionPath.
	ModulesPath = "/api/v1/modules/"
	// BundlesPath takes bundle uploads.
	BundlesPath = "/api/v1/bundles"
	// TokensPath lists and creates tokens; TokenPath names one.
	TokensPath = "/api/v1/tokens"
)

// The parts of a publish request's multipart/form-data body.
const (
	PartMod  = "mod"  // the .mod file
	PartZip  = "zip"  // the module zip
	PartTime = "time" // optional: the .info time, RFC 3339
)

// ReasonParam is the query parameter of a delete request that says why.
const ReasonParam = "reason"

// VersionPath returns the API path of a module version:
// ModulesPath + "<escaped path>/@v/<escaped version>".
func VersionPath(v module.Version) (string, error) {
	ep, err := module.EscapePath(v.Path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(v.Version)
	if err != nil {
		return "", err
	}
	return ModulesPath + ep + "/@v/" + ev, nil
}

// ParseVersion parses what follows ModulesPath in a version's path,
// "<escaped path>/@v/<escaped version>", and checks that it names a valid
// module version with a canonical version.
func ParseVersion(p string) (module.Version, error) {
	esc, escVer, ok := strings.Cut(p, "/@v/")
	if !ok || escVer == "" || strings.Contains(escVer, "/") {
		return module.Version{}, errors.New("want " + ModulesPath + "<escaped module path>/@v/<escaped version>")
	}
	path, err := module.UnescapePath(esc)
	if err != nil {
		return module.Version{}, err
	}
	ver, err := module.UnescapeVersion(escVer)
	if err != nil {
		return module.Version{}, err
	}
	if err := module.Check(path, ver); err != nil {
		return module.Version{}, err
	}
	if module.CanonicalVersion(ver) != ver {
		return module.Version{}, fmt.Errorf("%s@%s: version is not canonical", path, ver)
	}
	return module.Version{Path: path, Version: ver}, nil
}

// TokenPath returns the API path of the token called name.
func TokenPath(name string) string {
	return TokensPath + "/" + url.PathEscape(name)
}
