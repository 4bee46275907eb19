// Package cacheimport adds the contents of a go command module cache
// (GOMODCACHE/cache/download, the tree people copy between machines today)
// to a module store, checking everything it adds.
//
// For each module version found it requires a .mod file; a .zip, if
// present, must satisfy the module zip rules (golang.org/x/mod/zip) and its
// recomputed h1: hash must equal the .ziphash beside it when there is one;
// a .info, if present, must be JSON naming the same version. A version that
// fails any check is skipped with the reason, never partly added. A version
// the store already holds is left alone if its zip hash agrees, and skipped
// as a conflict if it does not.
package cacheimport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/errgroup"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/onezip"
	"github.com/modferry/modferry/internal/store"
)

// Options configure Import.
type Options struct {
	// Jobs bounds parallel checks; 0 means 4.
	Jobs int
	// Progress, if set, is called after each module version.
	Progress func(done, total int)
}

// Result reports what Import did.
type Result struct {
	Added    modules.VersionList `json:"added"`
	Present  modules.VersionList `json:"present"` // already in the store, same content
	Skipped  []Skip              `json:"skipped"`
	Bytes    int64               `json:"bytes"`
	Root     string              `json:"root"` // the cache/download directory read
	Versions int                 `json:"versions"`
}

// Skip names a version that was not added and why.
type Skip struct {
	module.Version
	Reason string `json:"reason"`
}

// MarshalJSON implements json.Marshaler, with the keys of modferry's JSON
// outputs: path, version, reason.
func (s Skip) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Path    string `json:"path"`
		Version string `json:"version"`
		Reason  string `json:"reason"`
	}{s.Path, s.Version.Version, s.Reason})
}

// FindDownloadDir accepts a GOPATH, a GOMODCACHE, or a cache/download
// directory and returns the cache/download directory.
func FindDownloadDir(dir string) (string, error) {
	for _, sub := range []string{"cache/download", "pkg/mod/cache/download", ""} {
		d := filepath.Join(dir, filepath.FromSlash(sub))
		if looksLikeDownloadDir(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s: no module cache found (want a GOMODCACHE, its cache/download, or a GOPATH)", dir)
}

func looksLikeDownloadDir(d string) bool {
	fi, err := os.Stat(d)
	if err != nil || !fi.IsDir() {
		return false
	}
	if filepath.Base(d) == "download" && filepath.Base(filepath.Dir(d)) == "cache" {
		return true
	}
	// A bare download tree: some entry below has an @v directory.
	found := false
	filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		if err != nil || found {
			return fs.SkipAll
		}
		if e.IsDir() && e.Name() == "@v" {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}

type candidate struct {
	v   module.Version
	dir string // the @v directory
	esc string // escaped version
}

// Import adds the valid module versions under dir to repo.
func Import(ctx context.Context, repo *modules.Repo, dir string, opts Options) (*Result, error) {
	root, err := FindDownloadDir(dir)
	if err != nil {
		return nil, err
	}
	res := &Result{Root: root, Skipped: []Skip{}}
	var cands []candidate
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == "sumdb" && p == filepath.Join(root, "sumdb") {
				return fs.SkipDir
			}
			return nil
		}
		if e.Type()&fs.ModeSymlink != 0 || !strings.HasSuffix(p, ".mod") || filepath.Base(filepath.Dir(p)) != "@v" {
			return nil
		}
		vdir := filepath.Dir(p)
		rel, _ := filepath.Rel(root, filepath.Dir(vdir))
		escVer := strings.TrimSuffix(e.Name(), ".mod")
		path, perr := module.UnescapePath(filepath.ToSlash(rel))
		ver, verr := module.UnescapeVersion(escVer)
		v := module.Version{Path: filepath.ToSlash(rel), Version: escVer}
		if perr != nil || verr != nil {
			res.Skipped = append(res.Skipped, Skip{v, "not a valid escaped module path or version"})
			return nil
		}
		v = module.Version{Path: path, Version: ver}
		// modfiles.Check, as for bundles: a version the proxy would never
		// serve (non-canonical, +incompatible misuse) stays out.
		if err := modfiles.Check(v); err != nil {
			res.Skipped = append(res.Skipped, Skip{v, err.Error()})
			return nil
		}
		cands = append(cands, candidate{v: v, dir: vdir, esc: escVer})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", root, err)
	}
	res.Versions = len(cands) + len(res.Skipped)

	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	var mu sync.Mutex
	done := 0
	touched := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, c := range cands {
		g.Go(func() error {
			outcome, n, err := importOne(gctx, repo, c)
			mu.Lock()
			defer mu.Unlock()
			done++
			if opts.Progress != nil {
				opts.Progress(done, len(cands))
			}
			var skip *skipError
			switch {
			case errors.As(err, &skip):
				res.Skipped = append(res.Skipped, Skip{c.v, skip.reason})
			case err != nil:
				return err
			case outcome == outcomePresent:
				res.Present = append(res.Present, c.v)
			default:
				res.Added = append(res.Added, c.v)
				res.Bytes += n
				touched[c.v.Path] = true
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	// The lists are rewritten under the store's import lock, as every
	// writer of them does (store.ImportLockName).
	lists := repo
	if len(touched) > 0 {
		held, err := store.LockImport(ctx, repo.Store, 0)
		if err != nil {
			return res, err
		}
		defer held.Unlock()
		lists = &modules.Repo{Store: store.Fence(repo.Store, held, "the import stopped before its version lists: import the module cache again")}
	}
	for p := range touched {
		if err := lists.WriteList(ctx, p); err != nil {
			return res, err
		}
	}
	if len(touched) > 0 {
		if err := modules.StampAddition(ctx, repo.Store, "import --cache-dir "+dir); err != nil {
			return res, err
		}
	}
	sortVersions(res.Added)
	sortVersions(res.Present)
	slices.SortFunc(res.Skipped, func(a, b Skip) int { return compareVersion(a.Version, b.Version) })
	return res, nil
}

type outcome int

const (
	outcomeAdded outcome = iota
	outcomePresent
)

type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

func skipf(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

func importOne(ctx context.Context, repo *modules.Repo, c candidate) (outcome, int64, error) {
	// A version deleted on purpose stays gone; one prune removed comes
	// back (its record goes just before its files).
	gone, err := repo.IsGone(ctx, c.v)
	if err != nil {
		return 0, 0, err
	}
	if gone != nil && !gone.Pruned {
		return 0, 0, skipf("deleted from this store ('modferry delete'); it stays gone")
	}
	base := filepath.Join(c.dir, c.esc)
	mod, err := readSmall(base+".mod", modzip.MaxGoMod)
	if err != nil {
		return 0, 0, skipf("reading .mod: %v", err)
	}
	var info []byte
	if b, err := readSmall(base+".info", maxInfo); err == nil {
		var ij modules.InfoJSON
		if err := json.Unmarshal(b, &ij); err != nil {
			return 0, 0, skipf(".info is not valid JSON: %v", err)
		}
		if ij.Version != c.v.Version {
			return 0, 0, skipf(".info names version %q", ij.Version)
		}
		info = b
	}
	zipPath := base + ".zip"
	var zipHash string
	hasZip := false
	if fi, err := os.Lstat(zipPath); err == nil && fi.Mode().IsRegular() {
		hasZip = true
		if err := onezip.CheckFile(zipPath); err != nil {
			return 0, 0, skipf("zip: %v", err)
		}
		if _, err := modzip.CheckZip(c.v, zipPath); err != nil {
			return 0, 0, skipf("zip breaks the module zip rules: %v", err)
		}
		zipHash, err = modfiles.HashZip(zipPath)
		if err != nil {
			return 0, 0, skipf("hashing zip: %v", err)
		}
		if want, err := readSmall(base+".ziphash", maxZipHash); err == nil {
			if w := strings.TrimSpace(string(want)); w != zipHash {
				return 0, 0, skipf("zip hash %s does not match its .ziphash %s (corrupt or altered zip)", zipHash, w)
			}
		}
	}

	// What does the store hold already?
	nameZH, _ := modfiles.Name(c.v, modfiles.ZipHash)
	have, err := store.ReadAll(ctx, repo.Store, nameZH)
	switch {
	case err == nil && hasZip:
		if strings.TrimSpace(string(have)) != zipHash {
			return 0, 0, skipf("conflict: the store holds this version with zip hash %s, the cache has %s", strings.TrimSpace(string(have)), zipHash)
		}
		if ok, _ := complete(ctx, repo, c.v); ok {
			return outcomePresent, 0, nil
		}
	case err == nil && !hasZip:
		return outcomePresent, 0, nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, 0, err
	}
	nameMod, _ := modfiles.Name(c.v, modfiles.Mod)
	if old, err := store.ReadAll(ctx, repo.Store, nameMod); err == nil {
		if !bytes.Equal(old, mod) {
			return 0, 0, skipf("conflict: the store holds a different go.mod for this version")
		}
		if !hasZip {
			return outcomePresent, 0, nil
		}
	}

	if gone != nil {
		name, _ := modfiles.Name(c.v, modfiles.Gone)
		if err := repo.Store.Delete(ctx, name); err != nil {
			return 0, 0, err
		}
	}
	files := modules.Files{Mod: bytes.NewReader(mod), ZipHash: zipHash}
	if info != nil {
		files.Info = bytes.NewReader(info)
	}
	n := int64(len(mod) + len(info))
	if hasZip {
		zf, err := os.Open(zipPath)
		if err != nil {
			return 0, 0, skipf("opening zip: %v", err)
		}
		defer zf.Close()
		if fi, err := zf.Stat(); err == nil {
			n += fi.Size()
		}
		files.Zip = zf
	} else if info == nil {
		// A go.mod-only version: serve the .mod, do not list it.
		return outcomeAdded, n, putModOnly(ctx, repo, c.v, mod)
	}
	if err := repo.Add(ctx, c.v, files); err != nil {
		return 0, 0, err
	}
	return outcomeAdded, n, nil
}

func putModOnly(ctx context.Context, repo *modules.Repo, v module.Version, mod []byte) error {
	name, _ := modfiles.Name(v, modfiles.Mod)
	return repo.Store.Put(ctx, name, bytes.NewReader(mod))
}

func complete(ctx context.Context, repo *modules.Repo, v module.Version) (bool, error) {
	for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
		name, _ := modfiles.Name(v, k)
		if ok, err := store.Exists(ctx, repo.Store, name); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

func sortVersions(vs []module.Version) { slices.SortFunc(vs, compareVersion) }

func compareVersion(a, b module.Version) int {
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return strings.Compare(a.Version, b.Version)
}

// Bounds on the small files of a module cache, which is input from
// elsewhere: a .info as the bundle format allows, a .ziphash a hash.
const (
	maxInfo    = 1 << 20
	maxZipHash = 1 << 10
)

// readSmall reads the regular file name (a symlink, FIFO or device is
// refused, not followed or read), of at most limit bytes.
func readSmall(name string, limit int64) ([]byte, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(name))
	}
	f, err := openRegular(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fo, err := f.Stat(); err != nil || !fo.Mode().IsRegular() || !os.SameFile(fi, fo) {
		return nil, fmt.Errorf("%s changed while it was read", filepath.Base(name))
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(name), limit)
	}
	return b, nil
}
