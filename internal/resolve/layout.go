package resolve

import (
	"errors"
	"fmt"
	"io"
	"os"
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

// writeFileAtomic writes the contents of r to name through a temporary file
// in the same directory, synced and renamed into place. It returns the
// number of bytes written.
func writeFileAtomic(name string, r io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}
