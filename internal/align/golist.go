package align

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A GoCommandError is a go command that failed in a project.
type GoCommandError struct {
	Dir    string
	Args   []string
	Stderr string
	Err    error
}

func (e *GoCommandError) Error() string {
	return fmt.Sprintf("%s: go %s: %v\n%s", e.Dir, strings.Join(e.Args, " "), e.Err, strings.TrimRight(e.Stderr, "\n"))
}

func (e *GoCommandError) Unwrap() error { return e.Err }

// ErrNotProject is matched by the error for a directory with neither
// go.work nor go.mod.
var ErrNotProject = errors.New("not a module root or workspace root (no go.work or go.mod)")

// projectEnv returns env with GOWORK set for the project at dir (absolute).
func projectEnv(env []string, dir string, workspace bool) []string {
	out := append([]string(nil), env...)
	if workspace {
		return append(out, "GOWORK="+filepath.Join(dir, "go.work"))
	}
	return append(out, "GOWORK=off")
}

// isWorkspace reports whether dir is a workspace root, a module root or
// neither (an error matching ErrNotProject).
func isWorkspace(dir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
		return true, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		return false, nil
	}
	return false, fmt.Errorf("%s: %w", dir, ErrNotProject)
}

// runGo runs go args in dir and returns its standard output.
func runGo(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &GoCommandError{Dir: dir, Args: args, Stderr: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// listModule is the part of go list -m -json output that align reads.
type listModule struct {
	Path    string
	Version string
	Main    bool
	Dir     string
	Replace *struct {
		Path    string
		Version string
	}
}

// load reads the build list of the project at dir.
func load(ctx context.Context, dir string, env []string) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	ws, err := isWorkspace(abs)
	if err != nil {
		return nil, err
	}
	out, err := runGo(ctx, abs, projectEnv(env, abs, ws), "list", "-mod=readonly", "-m", "-json", "all")
	if err != nil {
		return nil, err
	}
	p := &Project{Dir: dir, Workspace: ws, MainModules: []string{}, selected: make(map[string]string)}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m listModule
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: go list -m -json all: %w", dir, err)
		}
		switch {
		case m.Main:
			p.MainModules = append(p.MainModules, m.Path)
			p.mainDirs = append(p.mainDirs, m.Dir)
		case m.Version == "", m.Replace != nil && m.Replace.Version == "":
			// No version selected, or replaced by a directory.
		default:
			p.selected[m.Path] = m.Version
		}
	}
	p.Modules = len(p.selected)
	return p, nil
}
