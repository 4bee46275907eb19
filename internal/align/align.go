package align

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"
)

// ErrSkew is matched (with errors.Is) by errors that report skew that no
// allow-list rule covers.
var ErrSkew = errors.New("version skew")

// Options configures [Analyze] and [Write]. The zero value is usable.
type Options struct {
	// Env is the go command's environment. Nil means the process
	// environment. GOWORK is set per project and ignored here.
	Env []string
	// Allow names intended differences. Nil allows none.
	Allow *AllowList
	// Holds, if not nil, reports whether the module store holds a module
	// version; each skew's target is looked up.
	Holds func(ctx context.Context, v module.Version) (bool, error)
}

// A Project is one module root or workspace root and its build list.
type Project struct {
	// Dir is the directory as given to Analyze.
	Dir string `json:"dir"`
	// Workspace reports whether Dir is a workspace root (go.work).
	Workspace bool `json:"workspace"`
	// MainModules are the module paths of the main modules.
	MainModules []string `json:"mainModules"`
	// Modules is the number of modules selected, main modules excluded.
	Modules int `json:"modules"`

	selected map[string]string // module path -> selected version
	mainDirs []string          // directories of the main modules, in go list order
}

// Selected reports the version the project selects of the module path, or
// "" if it selects none.
func (p *Project) Selected(path string) string { return p.selected[path] }

// A Use is the version one project selects of a skewed module.
type Use struct {
	Project string `json:"project"`
	Version string `json:"version"`
	Lagging bool   `json:"lagging"`
}

// A Skew is a module that the projects select at different versions.
type Skew struct {
	Module string `json:"module"`
	// Target is the highest selected version: what minimal version
	// selection would pick for all.
	Target string `json:"target"`
	// Uses lists every project selecting the module, in project order.
	Uses []Use `json:"uses"`
	// Lagging lists the projects selecting a version below Target.
	Lagging []string `json:"lagging"`
	// InStore reports whether the store holds Target; nil when no store
	// was asked.
	InStore *bool `json:"inStore,omitempty"`
	// Allowed reports whether an allow-list rule covers this skew.
	Allowed bool `json:"allowed"`
	// AllowedBy is the allow-list rule, as written, that covers it.
	AllowedBy string `json:"allowedBy,omitempty"`
}

// A Report is the result of [Analyze].
type Report struct {
	Projects []*Project `json:"projects"`
	// Skews lists the skewed modules, sorted by module path.
	Skews []Skew `json:"skews"`
}

// Unallowed returns the skews no allow-list rule covers.
func (r *Report) Unallowed() []Skew {
	out := []Skew{}
	for _, s := range r.Skews {
		if !s.Allowed {
			out = append(out, s)
		}
	}
	return out
}

// Analyze loads the build list of every project directory and reports
// the modules they select at different versions.
func Analyze(ctx context.Context, dirs []string, opts Options) (*Report, error) {
	if len(dirs) == 0 {
		return nil, errors.New("align: no project directories")
	}
	seen := make(map[string]string)
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[abs]; ok {
			return nil, fmt.Errorf("align: %s and %s are the same project", prev, dir)
		}
		seen[abs] = dir
	}
	r := &Report{Projects: make([]*Project, len(dirs)), Skews: []Skew{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, dir := range dirs {
		g.Go(func() error {
			p, err := load(gctx, dir, opts.env())
			r.Projects[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.Skews = findSkews(r.Projects)
	for i := range r.Skews {
		s := &r.Skews[i]
		if rule, ok := opts.Allow.allows(s); ok {
			s.Allowed, s.AllowedBy = true, rule
		}
		if opts.Holds != nil {
			ok, err := opts.Holds(ctx, module.Version{Path: s.Module, Version: s.Target})
			if err != nil {
				return nil, fmt.Errorf("align: store: %w", err)
			}
			s.InStore = &ok
		}
	}
	return r, nil
}

func (o Options) env() []string {
	if o.Env == nil {
		return os.Environ()
	}
	return o.Env
}

// findSkews compares the projects' build lists.
func findSkews(projects []*Project) []Skew {
	paths := make(map[string]bool)
	for _, p := range projects {
		for path := range p.selected {
			paths[path] = true
		}
	}
	skews := []Skew{}
	for path := range paths {
		var uses []Use
		var versions []string
		for _, p := range projects {
			if v := p.selected[path]; v != "" {
				uses = append(uses, Use{Project: p.Dir, Version: v})
				versions = append(versions, v)
			}
		}
		target := Highest(versions)
		s := Skew{Module: path, Target: target, Uses: uses, Lagging: []string{}}
		for i := range s.Uses {
			if s.Uses[i].Version != target {
				s.Uses[i].Lagging = true
				s.Lagging = append(s.Lagging, s.Uses[i].Project)
			}
		}
		if len(s.Lagging) > 0 {
			skews = append(skews, s)
		}
	}
	sort.Slice(skews, func(i, j int) bool { return skews[i].Module < skews[j].Module })
	return skews
}

// Highest returns the version minimal version selection picks from vs:
// the highest in semver order. Versions equal in semver order (they differ
// only in build metadata such as +incompatible) are ordered by their text,
// so that the answer does not depend on the order of vs.
func Highest(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return slices.MaxFunc(vs, func(a, b string) int {
		if c := semver.Compare(a, b); c != 0 {
			return c
		}
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
}
