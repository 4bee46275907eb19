package resolve

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// projectCopy is a project copied into the work directory.
type projectCopy struct {
	Orig      string // the user's directory
	Root      string // its copy
	Workspace bool
	// Modules are the copied main module directories: Root for a module
	// project, every use'd module for a workspace.
	Modules []string
}

// copyProject copies the project at src to dst, so that the go command can
// rewrite go.mod, go.sum and go.work there without touching the user's
// files. Version-control directories and vendor directories (with a
// modules.txt) are left out: the go command must download what they hold.
// Source files are hard-linked when possible; go.mod, go.sum, go.work and
// go.work.sum are always real copies.
//
// Directory replacements and go.work use directives that leave the project
// tree are handled so that nothing outside dst is ever written: use'd
// modules outside the tree are copied beside dst, and replacement
// directories outside the tree (which the go command only reads) are
// rewritten to absolute paths of the originals.
func copyProject(src, dst string) (*projectCopy, error) {
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	pc := &projectCopy{Orig: src, Root: dst}
	switch {
	case exists(filepath.Join(src, "go.work")):
		pc.Workspace = true
	case exists(filepath.Join(src, "go.mod")):
	default:
		return nil, fmt.Errorf("%s: neither go.mod nor go.work found: not a module root or go.work root", src)
	}
	if err := copyTree(src, dst); err != nil {
		return nil, fmt.Errorf("copying %s: %w", src, err)
	}
	m := &pathMap{roots: []pathPair{{src, dst}}}
	if !pc.Workspace {
		pc.Modules = []string{dst}
		return pc, rewriteGoMod(src, dst, m)
	}

	// Workspace: copy use'd modules that live outside the tree.
	workFile := filepath.Join(dst, "go.work")
	data, err := os.ReadFile(workFile)
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork(workFile, data, nil)
	if err != nil {
		return nil, err
	}
	var origMods []string
	for _, u := range wf.Use {
		orig := u.Path
		if !filepath.IsAbs(orig) {
			orig = filepath.Join(src, orig)
		}
		orig = filepath.Clean(orig)
		if _, ok := m.inside(orig); !ok {
			ext := filepath.Join(filepath.Dir(dst), filepath.Base(dst)+"-use"+strconv.Itoa(len(m.roots)))
			if err := copyTree(orig, ext); err != nil {
				return nil, fmt.Errorf("copying %s (used by %s): %w", orig, filepath.Join(src, "go.work"), err)
			}
			m.roots = append(m.roots, pathPair{orig, ext})
		}
		origMods = append(origMods, orig)
	}
	changed := false
	for _, u := range append([]*modfile.Use(nil), wf.Use...) {
		orig := u.Path
		if !filepath.IsAbs(orig) {
			orig = filepath.Join(src, orig)
		}
		if p, ok := m.inside(filepath.Clean(orig)); ok && !strings.HasPrefix(p, dst+string(filepath.Separator)) && p != dst {
			wf.AddUse(p, u.ModulePath)
			wf.DropUse(u.Path)
			changed = true
		}
	}
	for _, r := range append([]*modfile.Replace(nil), wf.Replace...) {
		if np, ok := m.replacement(src, r.New.Path, r.New.Version); ok && np != r.New.Path {
			wf.AddReplace(r.Old.Path, r.Old.Version, np, "")
			changed = true
		}
	}
	if changed {
		wf.Cleanup()
		if err := os.WriteFile(workFile, modfile.Format(wf.Syntax), 0o644); err != nil {
			return nil, err
		}
	}
	for _, orig := range origMods {
		cp, _ := m.inside(orig)
		if err := rewriteGoMod(orig, cp, m); err != nil {
			return nil, err
		}
		pc.Modules = append(pc.Modules, cp)
	}
	return pc, nil
}

type pathPair struct{ orig, copy string }

// pathMap maps original paths to their copies.
type pathMap struct{ roots []pathPair }

// inside returns the copy of orig if orig lies in a copied tree.
func (m *pathMap) inside(orig string) (string, bool) {
	for _, r := range m.roots {
		if rel, err := filepath.Rel(r.orig, orig); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.Join(r.copy, rel), true
		}
	}
	return "", false
}

// replacement returns the path a directory replacement written in a file
// of directory origDir must use in the copy, and whether it must change.
func (m *pathMap) replacement(origDir, newPath, newVersion string) (string, bool) {
	if newVersion != "" || !modfile.IsDirectoryPath(newPath) {
		return "", false // a module replacement, not a directory
	}
	orig := newPath
	if !filepath.IsAbs(orig) {
		orig = filepath.Join(origDir, orig)
	}
	orig = filepath.Clean(orig)
	if cp, ok := m.inside(orig); ok {
		return cp, true
	}
	return orig, true
}

// rewriteGoMod makes directory replacements in the go.mod copied from
// origDir to copyDir point at the right places.
func rewriteGoMod(origDir, copyDir string, m *pathMap) error {
	name := filepath.Join(copyDir, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return err
	}
	changed := false
	for _, r := range append([]*modfile.Replace(nil), f.Replace...) {
		if np, ok := m.replacement(origDir, r.New.Path, r.New.Version); ok && np != r.New.Path {
			if err := f.AddReplace(r.Old.Path, r.Old.Version, np, ""); err != nil {
				return err
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(name, out, 0o644)
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// copyTree copies the directory src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			switch d.Name() {
			case ".git", ".hg", ".svn", ".bzr":
				if p != src {
					return filepath.SkipDir
				}
			case "vendor":
				if exists(filepath.Join(p, "modules.txt")) {
					return filepath.SkipDir
				}
			}
			// The go command never loads packages from directories
			// starting with "." or "_" (nor embeds them without "all:"),
			// and they often hold large caches and build output.
			if n := d.Name(); p != src && (strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o777)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case !d.Type().IsRegular():
			return nil
		}
		switch d.Name() {
		case "go.mod", "go.sum", "go.work", "go.work.sum":
			return copyFile(p, target)
		}
		if err := os.Link(p, target); err == nil {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
