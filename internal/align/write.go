package align

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// A Change is what [Write] did to one project.
type Change struct {
	Project string `json:"project"`
	// Raised lists the modules raised.
	Raised []Raise `json:"raised"`
	// Commands lists the go commands run, each as "(DIR) go ARGS".
	Commands []string `json:"commands"`
	// Diffs holds a unified diff of each go.mod (and go.work) changed.
	Diffs []FileDiff `json:"diffs"`
}

// A Raise is one module raised in one project.
type Raise struct {
	Module string `json:"module"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// A FileDiff is the change to one file.
type FileDiff struct {
	File string `json:"file"`
	Diff string `json:"diff"`
}

// Write raises every project that lags behind a skew's target, except for
// skews the allow list covers, and reports what changed. On error it
// returns the changes made so far.
func Write(ctx context.Context, r *Report, opts Options) ([]Change, error) {
	changes := []Change{}
	for _, p := range r.Projects {
		var raise []module.Version
		for _, s := range r.Skews {
			if !s.Allowed && slices.Contains(s.Lagging, p.Dir) {
				raise = append(raise, module.Version{Path: s.Module, Version: s.Target})
			}
		}
		if len(raise) == 0 {
			continue
		}
		c, err := raiseProject(ctx, p, raise, opts.env())
		if c != nil {
			changes = append(changes, *c)
		}
		if err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// raiseProject runs go get and tidies the project.
func raiseProject(ctx context.Context, p *Project, raise []module.Version, env []string) (*Change, error) {
	root, err := filepath.Abs(p.Dir)
	if err != nil {
		return nil, err
	}
	env = projectEnv(env, root, p.Workspace)
	files := []string{filepath.Join(root, "go.mod")}
	if p.Workspace {
		files = []string{filepath.Join(root, "go.work")}
		for _, d := range p.mainDirs {
			files = append(files, filepath.Join(d, "go.mod"))
		}
	}
	before, err := readFiles(files)
	if err != nil {
		return nil, err
	}
	c := &Change{Project: p.Dir, Raised: []Raise{}, Commands: []string{}, Diffs: []FileDiff{}}
	for _, v := range raise {
		c.Raised = append(c.Raised, Raise{Module: v.Path, From: p.selected[v.Path], To: v.Version})
	}
	run := func(dir string, args ...string) error {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			rel = dir
		}
		c.Commands = append(c.Commands, fmt.Sprintf("(%s) go %s", filepath.Join(p.Dir, rel), strings.Join(args, " ")))
		_, err = runGo(ctx, dir, env, args...)
		return err
	}
	err = func() error {
		if !p.Workspace {
			if err := run(root, getArgs(raise)...); err != nil {
				return err
			}
			return run(root, "mod", "tidy")
		}
		byDir, err := workspaceTargets(p, raise)
		if err != nil {
			return err
		}
		for _, d := range p.mainDirs {
			if vs := byDir[d]; len(vs) > 0 {
				if err := run(d, getArgs(vs)...); err != nil {
					return err
				}
			}
		}
		return run(root, "work", "sync")
	}()
	after, rerr := readFiles(files)
	if rerr != nil && err == nil {
		err = rerr
	}
	for _, f := range files {
		name := filepath.Join(p.Dir, mustRel(root, f))
		if d := Diff(name, before[f], after[f]); d != "" {
			c.Diffs = append(c.Diffs, FileDiff{File: name, Diff: d})
		}
	}
	return c, err
}

func getArgs(vs []module.Version) []string {
	args := []string{"get"}
	for _, v := range vs {
		args = append(args, v.Path+"@"+v.Version)
	}
	return args
}

// workspaceTargets assigns each module to raise to the workspace modules
// whose go.mod requires it, or to the first workspace module if none does.
func workspaceTargets(p *Project, raise []module.Version) (map[string][]module.Version, error) {
	if len(p.mainDirs) == 0 {
		return nil, fmt.Errorf("%s: workspace has no modules", p.Dir)
	}
	requires := make(map[string]map[string]bool) // dir -> required paths
	for _, d := range p.mainDirs {
		file := filepath.Join(d, "go.mod")
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		f, err := modfile.ParseLax(file, data, nil)
		if err != nil {
			return nil, err
		}
		requires[d] = make(map[string]bool)
		for _, r := range f.Require {
			requires[d][r.Mod.Path] = true
		}
	}
	out := make(map[string][]module.Version)
	for _, v := range raise {
		placed := false
		for _, d := range p.mainDirs {
			if requires[d][v.Path] {
				out[d] = append(out[d], v)
				placed = true
			}
		}
		if !placed {
			out[p.mainDirs[0]] = append(out[p.mainDirs[0]], v)
		}
	}
	return out, nil
}

// readFiles reads each file; a missing file reads as "".
func readFiles(files []string) (map[string]string, error) {
	out := make(map[string]string, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		out[f] = string(data)
	}
	return out, nil
}

func mustRel(root, file string) string {
	rel, err := filepath.Rel(root, file)
	if err != nil {
		return file
	}
	return rel
}
