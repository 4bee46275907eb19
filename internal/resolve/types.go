package resolve

import (
	"fmt"
	"strings"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
)

// File is one module file that the go command needs.
type File struct {
	Module module.Version
	Kind   modfiles.Kind
	// Path is the file on disk, under Options.WorkDir/download.
	Path string
	Size int64
	// ZipHash is, for a zip, the h1: hash the go command computed when it
	// downloaded it during resolution ("" if it did not).
	ZipHash string
}

// Name returns the file's slash-separated name in the GOPROXY layout,
// for example "github.com/!burnt!sushi/toml/@v/v1.4.0.mod".
func (f File) Name() string {
	name, err := modfiles.ProxyPath(f.Module, f.Kind)
	if err != nil {
		return f.Module.Path + "/@v/" + f.Module.Version + "." + string(f.Kind)
	}
	return name
}

func (f File) String() string { return f.Module.String() + "." + string(f.Kind) }

// ProjectInfo describes a project directory that was resolved.
type ProjectInfo struct {
	// Path is the absolute path of the project directory.
	Path string
	// Workspace reports whether Path is a go.work root.
	Workspace bool
	// VCSRevision is the output of git rev-parse HEAD if Path is in a git
	// work tree, and "" otherwise.
	VCSRevision string
	// GoSumSHA256 is the hex SHA-256 of the project's go.sum (go.work.sum
	// for a workspace), or "" if it has none.
	GoSumSHA256 string
	// BuildList is every module version the project builds with (go
	// list -m all, main modules left out, replacements applied).
	BuildList []module.Version
	// GoVersion is the Go toolchain the project was resolved with: the
	// one it selects, as the go command with GOTOOLCHAIN=auto does (for
	// example "go1.27.0" for a go 1.27 line and a go1.26 go command).
	GoVersion string
}

// Result is what Resolve found.
type Result struct {
	// Files is every module file needed, sorted by module path, version and
	// kind; each module version appears once whatever the number of
	// projects that need it.
	Files []File
	// Projects describes Options.Projects in order.
	Projects []ProjectInfo
	// Modules holds Options.Modules with queries (like @latest) resolved to
	// versions, in order.
	Modules []module.Version
	// Requests counts, per go command run, the module files the recorder
	// served (each file is counted by the first command that asked for it;
	// while module arguments resolve in parallel, by the command that
	// started last).
	Requests []CommandRequests
}

// CommandRequests counts the module files one go command requested.
type CommandRequests struct {
	Project        string // project directory, or "modules" for the module pool
	Command        string // for example "go mod download all"
	Info, Mod, Zip int
}

// Event reports progress. Fields that do not apply are zero.
type Event struct {
	// Stage is a short description of the current step, for example
	// "/src/app: go mod download all".
	Stage string
	// Files and Bytes count the module files stored so far by this
	// Resolve call and their total size.
	Files int
	Bytes int64
	// Total is the number of files expected, when known (during the final
	// completion step), or 0.
	Total int
}

// GoCommandError reports a failed go command.
type GoCommandError struct {
	Project string   // project directory (the user's, not the copy)
	Dir     string   // directory the command ran in
	Args    []string // the go command's arguments
	Stderr  string   // last lines of its standard error
	Err     error
}

func (e *GoCommandError) Error() string {
	return fmt.Sprintf("resolve %s: go %s (in %s): %v\n%s", e.Project, strings.Join(e.Args, " "), e.Dir, e.Err, e.Stderr)
}

func (e *GoCommandError) Unwrap() error { return e.Err }
