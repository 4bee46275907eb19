package sbom

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// Requirements returns the module versions a dependency's go.mod
// requires. Replace and exclude directives are left out: the go command
// applies them only in the main module (or workspace).
func Requirements(file string, data []byte) ([]module.Version, error) {
	f, err := modfile.ParseLax(file, data, nil)
	if err != nil {
		return nil, err
	}
	out := make([]module.Version, 0, len(f.Require))
	for _, r := range f.Require {
		out = append(out, r.Mod)
	}
	return out, nil
}

// ProjectRequirements returns what a project directory requires: the
// requirements of its go.mod, or for a go.work root those of every module
// it uses, each with the main module's (and the workspace's) replace
// directives applied. A requirement replaced by a directory (a module that
// no proxy serves) is left out; one replaced by another module version
// becomes that version.
func ProjectRequirements(dir string) ([]module.Version, error) {
	var gomods []string
	var replaces []*modfile.Replace
	if data, err := os.ReadFile(filepath.Join(dir, "go.work")); err == nil {
		wf, err := modfile.ParseWork("go.work", data, nil)
		if err != nil {
			return nil, err
		}
		for _, u := range wf.Use {
			d := filepath.FromSlash(u.Path)
			if !filepath.IsAbs(d) {
				d = filepath.Join(dir, d)
			}
			gomods = append(gomods, filepath.Join(d, "go.mod"))
		}
		replaces = append(replaces, wf.Replace...)
	} else if errors.Is(err, fs.ErrNotExist) {
		gomods = []string{filepath.Join(dir, "go.mod")}
	} else {
		return nil, err
	}
	var reqs []module.Version
	seen := map[module.Version]bool{}
	for _, name := range gomods {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := modfile.Parse(name, data, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range f.Require {
			// The workspace's replacements win over a module's own.
			v, ok := replaced(r.Mod, f.Replace, replaces)
			if ok && !seen[v] {
				seen[v] = true
				reqs = append(reqs, v)
			}
		}
	}
	return reqs, nil
}

// replaced applies replace directives to a requirement as the go command
// does; false means it is replaced by a directory. Each tier is a file's
// directives, a later tier (go.work) winning over an earlier one (the
// module's go.mod) for the same module path; within a file, a directive
// for the exact version wins over one for every version of the path.
func replaced(v module.Version, tiers ...[]*modfile.Replace) (module.Version, bool) {
	for i := len(tiers) - 1; i >= 0; i-- {
		var exact, any *modfile.Replace
		for _, r := range tiers[i] {
			switch {
			case r.Old.Path != v.Path:
			case r.Old.Version == v.Version:
				exact = r
			case r.Old.Version == "":
				any = r
			}
		}
		r := exact
		if r == nil {
			r = any
		}
		if r == nil {
			continue
		}
		if r.New.Version == "" {
			return module.Version{}, false
		}
		return r.New, true
	}
	return v, true
}

// Link sets each module's Requires from its go.mod, read by goMod, and
// keeps only the edges to versions the document lists. A module whose
// go.mod cannot be parsed keeps no edges; the error names it.
func Link(mods []Module, goMod func(module.Version) ([]byte, error)) error {
	listed := make(map[module.Version]bool, len(mods))
	for _, m := range mods {
		listed[m.Version] = true
	}
	var errs []error
	for i := range mods {
		data, err := goMod(mods[i].Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", mods[i].Version, err))
			continue
		}
		reqs, err := Requirements(mods[i].Path+"@"+mods[i].Version.Version+"/go.mod", data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mods[i].Requires = mods[i].Requires[:0]
		for _, r := range reqs {
			if listed[r] {
				mods[i].Requires = append(mods[i].Requires, r)
			}
		}
	}
	return errors.Join(errs...)
}
