package modfiles

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/module"
)

// Op is what a GOPROXY request asks for.
type Op int

// The GOPROXY operations.
const (
	OpList   Op = iota + 1 // $module/@v/list
	OpInfo                 // $module/@v/$version.info
	OpMod                  // $module/@v/$version.mod
	OpZip                  // $module/@v/$version.zip
	OpLatest               // $module/@latest
)

var opNames = [...]string{"", "list", "info", "mod", "zip", "latest"}

func (o Op) String() string {
	if o > 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "unknown"
}

// Kind returns the kind of file an OpInfo, OpMod or OpZip request asks
// for, and "" for the other operations.
func (o Op) Kind() Kind {
	switch o {
	case OpInfo:
		return Info
	case OpMod:
		return Mod
	case OpZip:
		return Zip
	}
	return ""
}

// Request is a parsed GOPROXY request. The module path is unescaped and
// valid; Version is set for OpInfo, OpMod and OpZip, unescaped, and passes
// [Check] when [ParseRequest] returned it.
type Request struct {
	Op Op
	module.Version
}

// ErrBadPath is matched by errors for request paths that are not GOPROXY
// requests at all or carry malformed module paths or escapes (HTTP 400).
var ErrBadPath = errors.New("bad request path")

// ErrNoSuchVersion is matched by errors for well-formed requests that name
// a version no proxy can hold, one that fails [Check], such as a branch
// name or a non-canonical version (HTTP 404: the go command then treats
// the version as absent).
var ErrNoSuchVersion = errors.New("no such version")

// maxPathLen bounds request paths; module paths are far shorter.
const maxPathLen = 1024

// ParseRequest parses a GOPROXY request path without its leading slash,
// after URL decoding (the go command sends "!" as "%21"), such as
// "modferry.test/!upper/@v/v1.0.0.zip".
func ParseRequest(p string) (Request, error) {
	return parseRequest(p, false)
}

// ParseUpstreamRequest is [ParseRequest] for a proxy that forwards to an
// upstream, which alone can say which versions exist: it accepts any
// version module.Check accepts, canonical or not (the go command asks for
// "v1.2.info" to resolve the query v1.2), and a .mod request for any
// version that unescapes, since the go command may ask for the go.mod of
// versions that module.Check rejects ("+incompatible" and major-version
// suffix quirks).
func ParseUpstreamRequest(p string) (Request, error) {
	return parseRequest(p, true)
}

func parseRequest(p string, upstream bool) (Request, error) {
	if len(p) > maxPathLen {
		return Request{}, fmt.Errorf("%w: longer than %d bytes", ErrBadPath, maxPathLen)
	}
	if esc, ok := strings.CutSuffix(p, "/@latest"); ok {
		path, err := unescapePath(esc)
		if err != nil {
			return Request{}, err
		}
		return Request{Op: OpLatest, Version: module.Version{Path: path}}, nil
	}
	esc, file, ok := strings.Cut(p, "/@v/")
	if !ok {
		return Request{}, fmt.Errorf("%w: not a GOPROXY request (want $module/@v/... or $module/@latest)", ErrBadPath)
	}
	path, err := unescapePath(esc)
	if err != nil {
		return Request{}, err
	}
	if file == "list" {
		return Request{Op: OpList, Version: module.Version{Path: path}}, nil
	}
	var op Op
	var escVer string
	switch {
	case strings.HasSuffix(file, ".info"):
		op, escVer = OpInfo, strings.TrimSuffix(file, ".info")
	case strings.HasSuffix(file, ".mod"):
		op, escVer = OpMod, strings.TrimSuffix(file, ".mod")
	case strings.HasSuffix(file, ".zip"):
		op, escVer = OpZip, strings.TrimSuffix(file, ".zip")
	default:
		return Request{}, fmt.Errorf("%w: unknown file %q (want list, .info, .mod or .zip)", ErrBadPath, file)
	}
	if escVer == "" || strings.Contains(escVer, "/") {
		return Request{}, fmt.Errorf("%w: bad version element %q", ErrBadPath, escVer)
	}
	ver, err := module.UnescapeVersion(escVer)
	if err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrBadPath, err)
	}
	v := module.Version{Path: path, Version: ver}
	if upstream {
		// The path is valid (unescapePath checked it).
		if err := module.Check(path, ver); err != nil && op != OpMod {
			return Request{}, fmt.Errorf("%w: %v", ErrNoSuchVersion, err)
		}
		return Request{Op: op, Version: v}, nil
	}
	if err := Check(v); err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrNoSuchVersion, err)
	}
	return Request{Op: op, Version: v}, nil
}

func unescapePath(esc string) (string, error) {
	path, err := module.UnescapePath(esc)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadPath, err)
	}
	return path, nil
}
