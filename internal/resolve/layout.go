package resolve

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
)

// fileName returns the GOPROXY name of a module file: escaped path, "/@v/",
// escaped version, ".", kind.
func fileName(m module.Version, k Kind) (string, error) {
	ep, err := module.EscapePath(m.Path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(m.Version)
	if err != nil {
		return "", err
	}
	return ep + "/@v/" + ev + "." + string(k), nil
}

// request is a parsed GOPROXY protocol request.
type request struct {
	Module module.Version // Version is empty for list and latest
	Op     string         // "list", "latest", or a Kind
}

var errBadRequest = errors.New("not a GOPROXY request")

// parseRequest parses a slash-separated GOPROXY request path without its
// leading slash, such as "golang.org/x/text/@v/v0.3.0.zip".
func parseRequest(name string) (request, error) {
	if esc, ok := strings.CutSuffix(name, "/@latest"); ok {
		p, err := module.UnescapePath(esc)
		if err != nil {
			return request{}, fmt.Errorf("%w: %v", errBadRequest, err)
		}
		return request{Module: module.Version{Path: p}, Op: "latest"}, nil
	}
	esc, file, ok := strings.Cut(name, "/@v/")
	if !ok {
		return request{}, errBadRequest
	}
	p, err := module.UnescapePath(esc)
	if err != nil {
		return request{}, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if file == "list" {
		return request{Module: module.Version{Path: p}, Op: "list"}, nil
	}
	ext := filepath.Ext(file)
	k := Kind(strings.TrimPrefix(ext, "."))
	if k != KindInfo && k != KindMod && k != KindZip {
		return request{}, errBadRequest
	}
	v, err := module.UnescapeVersion(strings.TrimSuffix(file, ext))
	if err != nil {
		return request{}, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	m := module.Version{Path: p, Version: v}
	if err := module.Check(p, v); err != nil && !isGoModOnly(m, k) {
		return request{}, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return request{Module: m, Op: string(k)}, nil
}

// isGoModOnly reports whether m is a version that the go command may ask
// about although module.Check rejects it: "+incompatible" and major-version
// suffix quirks only matter for .mod lookups, so be lenient there.
func isGoModOnly(m module.Version, k Kind) bool {
	return k == KindMod && module.CheckPath(m.Path) == nil
}
