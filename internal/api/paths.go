package api

import (
	"fmt"
	"net/url"

	"github.com/modferry/modferry/internal/modfiles"
	"golang.org/x/mod/module"
)

// The API's paths.
const (
	// Prefix starts every API path.
	Prefix = "/api/"
	// ModulesPath starts the path of a module version; see VersionPath.
	ModulesPath = "/api/v1/modules/"
	// BundlesPath takes bundle uploads (POST) and lists the import
	// history (GET).
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
	p, err := modfiles.VersionPath(v)
	if err != nil {
		return "", err
	}
	return ModulesPath + p, nil
}

// ParseVersion parses what follows ModulesPath in a version's path,
// "<escaped path>/@v/<escaped version>", and checks that it names a valid
// module version with a canonical version (modfiles.Check).
func ParseVersion(p string) (module.Version, error) {
	v, err := modfiles.ParseVersionPath(p)
	if err != nil {
		return module.Version{}, fmt.Errorf("want %s<escaped module path>/@v/<escaped version>: %w", ModulesPath, err)
	}
	if err := modfiles.Check(v); err != nil {
		return module.Version{}, err
	}
	return v, nil
}

// TokenPath returns the API path of the token called name.
func TokenPath(name string) string {
	return TokensPath + "/" + url.PathEscape(name)
}
