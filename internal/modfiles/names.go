package modfiles

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/module"
)

// Kind is the kind of a module version's file, its name's extension
// without the dot.
type Kind string

// The kinds of files a module version has.
const (
	Info    Kind = "info"
	Mod     Kind = "mod"
	Zip     Kind = "zip"
	ZipHash Kind = "ziphash"
	Gone    Kind = "gone"
)

// valid reports whether k is one of the kinds above.
func (k Kind) valid() bool {
	switch k {
	case Info, Mod, Zip, ZipHash, Gone:
		return true
	}
	return false
}

// Root is the directory holding module files in a store or bundle.
const Root = "download"

// CommitOrder returns the kinds of a version's files in the order a writer
// commits them: the .mod, then (when the version has a zip) the .zip and
// .ziphash, then the .info, whose presence makes the version complete.
func CommitOrder(hasZip bool) []Kind {
	if hasZip {
		return []Kind{Mod, Zip, ZipHash, Info}
	}
	return []Kind{Mod, Info}
}

// escape returns the escaped path and version of v.
func escape(v module.Version) (path, version string, err error) {
	if path, err = module.EscapePath(v.Path); err != nil {
		return "", "", err
	}
	if version, err = module.EscapeVersion(v.Version); err != nil {
		return "", "", err
	}
	return path, version, nil
}

// VersionPath returns "<escaped path>/@v/<escaped version>", the part
// of a module version's file names and API paths before any file kind;
// [ParseVersionPath] is its inverse.
func VersionPath(v module.Version) (string, error) {
	ep, ev, err := escape(v)
	if err != nil {
		return "", err
	}
	return ep + "/@v/" + ev, nil
}

// ProxyPath returns the GOPROXY request path of one file of a module
// version, without a leading slash: "<escaped path>/@v/<escaped
// version>.<kind>", such as "github.com/!burnt!sushi/toml/@v/v1.4.0.mod".
// It is also the file's name below a module cache's cache/download.
func ProxyPath(v module.Version, k Kind) (string, error) {
	if !k.valid() {
		return "", fmt.Errorf("unknown module file kind %q", k)
	}
	p, err := VersionPath(v)
	if err != nil {
		return "", err
	}
	return p + "." + string(k), nil
}

// Name returns the name of one file of a module version in a store or
// bundle: Root, "/", and its [ProxyPath].
func Name(v module.Version, k Kind) (string, error) {
	p, err := ProxyPath(v, k)
	if err != nil {
		return "", err
	}
	return Root + "/" + p, nil
}

// VersionDir returns the directory holding the versions of the module
// path, such as "download/modferry.test/!upper/@v".
func VersionDir(path string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	return Root + "/" + esc + "/@v", nil
}

// ListName returns the name of the module path's version list, such as
// "download/modferry.test/!upper/@v/list".
func ListName(path string) (string, error) {
	dir, err := VersionDir(path)
	if err != nil {
		return "", err
	}
	return dir + "/list", nil
}

// ListFile returns the content of a version list: the versions, one a
// line, in the order given.
func ListFile(versions []string) []byte {
	var b strings.Builder
	for _, v := range versions {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// ParseName is the inverse of [Name]: it parses a name below Root into the
// module version (checked with module.Check) and the file kind.
func ParseName(name string) (module.Version, Kind, error) {
	rest, ok := strings.CutPrefix(name, Root+"/")
	if !ok {
		return module.Version{}, "", fmt.Errorf("%q is not under %s/", name, Root)
	}
	escPath, file, ok := strings.Cut(rest, "/@v/")
	if !ok || strings.Contains(file, "/") {
		return module.Version{}, "", fmt.Errorf("%q is not a module file name", name)
	}
	i := strings.LastIndexByte(file, '.')
	if i < 0 {
		return module.Version{}, "", fmt.Errorf("%q has no file kind", name)
	}
	k := Kind(file[i+1:])
	if !k.valid() {
		return module.Version{}, "", fmt.Errorf("%q: unknown file kind %q", name, k)
	}
	v, err := unescape(escPath, file[:i])
	if err != nil {
		return module.Version{}, "", err
	}
	return v, k, nil
}

// ParseVersionPath parses "<escaped path>/@v/<escaped version>", the
// spelling of a module version in publish intent names and the HTTP API's
// module URLs, and checks it with module.Check.
func ParseVersionPath(p string) (module.Version, error) {
	escPath, escVer, ok := strings.Cut(p, "/@v/")
	if !ok || escVer == "" || strings.Contains(escVer, "/") {
		return module.Version{}, fmt.Errorf("%q is not <escaped module path>/@v/<escaped version>", p)
	}
	return unescape(escPath, escVer)
}

// unescape returns the module version with the escaped path and version,
// checked with module.Check.
func unescape(escPath, escVer string) (module.Version, error) {
	v, err := unescapeLax(escPath, escVer)
	if err != nil {
		return module.Version{}, err
	}
	if err := module.Check(v.Path, v.Version); err != nil {
		return module.Version{}, err
	}
	return v, nil
}

// unescapeLax is unescape without module.Check: the path is valid, and the
// version is a valid file name element.
func unescapeLax(escPath, escVer string) (module.Version, error) {
	path, err := module.UnescapePath(escPath)
	if err != nil {
		return module.Version{}, err
	}
	ver, err := module.UnescapeVersion(escVer)
	if err != nil {
		return module.Version{}, err
	}
	return module.Version{Path: path, Version: ver}, nil
}

// Check checks a module path and version as the go command would before
// asking a proxy for it: a valid path, a canonical semantic version
// consistent with the path's major version suffix (+incompatible allowed).
func Check(v module.Version) error {
	if err := module.Check(v.Path, v.Version); err != nil {
		return err
	}
	if c := module.CanonicalVersion(v.Version); c != v.Version {
		return module.VersionError(v, fmt.Errorf("version is not canonical (want %s)", c))
	}
	// As the go command: a path with a major version suffix has no
	// +incompatible versions.
	if _, major, _ := module.SplitPathVersion(v.Path); major != "" && strings.HasSuffix(v.Version, "+incompatible") {
		return module.VersionError(v, errors.New("+incompatible version for a path with a major version suffix"))
	}
	return nil
}

// PendingRoot is the store directory of publish intents: while a version
// is being published, "pending/<escaped path>/@v/<escaped version>"
// exists, and until its .info exists beside its other files, none of its
// files is served.
const PendingRoot = "pending"

// PendingName returns the store name of the publish intent of v.
func PendingName(v module.Version) (string, error) {
	ep, ev, err := escape(v)
	if err != nil {
		return "", err
	}
	return PendingRoot + "/" + ep + "/@v/" + ev, nil
}

// ParsePendingName is the inverse of [PendingName]. Like [ParseName], it
// checks the version with module.Check.
func ParsePendingName(name string) (module.Version, error) {
	rest, ok := strings.CutPrefix(name, PendingRoot+"/")
	if !ok {
		return module.Version{}, fmt.Errorf("%q is not under %s/", name, PendingRoot)
	}
	return ParseVersionPath(rest)
}

// LookupPath returns the path of v's record relative to a checksum
// database's root: "lookup/<escaped path>@<escaped version>".
func LookupPath(v module.Version) (string, error) {
	ep, ev, err := escape(v)
	if err != nil {
		return "", err
	}
	return "lookup/" + ep + "@" + ev, nil
}

// ParseLookupPath is the inverse of [LookupPath]. The path must be valid;
// the version need only look like one (a "v" and no slash), since a
// checksum database answers lookups of any version its upstream knows.
func ParseLookupPath(p string) (module.Version, error) {
	rest, ok := strings.CutPrefix(p, "lookup/")
	if !ok {
		return module.Version{}, fmt.Errorf("%q is not a lookup path", p)
	}
	ep, ev, ok := strings.Cut(rest, "@")
	if !ok {
		return module.Version{}, fmt.Errorf("lookup %q: missing @", rest)
	}
	v, err := unescapeLax(ep, ev)
	if err != nil {
		return module.Version{}, err
	}
	if !strings.HasPrefix(v.Version, "v") || strings.Contains(v.Version, "/") {
		return module.Version{}, fmt.Errorf("lookup %q: malformed version", rest)
	}
	return v, nil
}
