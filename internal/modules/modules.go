// Package modules stores Go module versions in a store.Store using the
// GOPROXY layout, the same layout as the go command's
// GOMODCACHE/cache/download:
//
//	download/<escaped path>/@v/<escaped version>.info   {"Version":..., "Time":...}
//	download/<escaped path>/@v/<escaped version>.mod    the go.mod, byte for byte as served upstream
//	download/<escaped path>/@v/<escaped version>.zip    the module zip
//	download/<escaped path>/@v/<escaped version>.ziphash the zip's h1: hash (as in GOMODCACHE)
//	download/<escaped path>/@v/<escaped version>.gone   a deletion record (JSON); the server answers 410
//	download/<escaped path>/@v/list                      release and pre-release versions, for file:// use
//
// A version is listed once its .info, .mod and .zip all exist; writers put
// .info last, so a listed version is always complete. A version with only
// a .mod (a go.mod the module graph needs whose zip nobody downloads) is
// served but never listed.
package modules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/store"
)

// Kind is a file of a module version.
type Kind string

// The kinds of files a module version has.
const (
	Info    Kind = "info"
	Mod     Kind = "mod"
	Zip     Kind = "zip"
	ZipHash Kind = "ziphash"
	Gone    Kind = "gone"
)

// Root is the store directory holding module files.
const Root = "download"

// VersionDir returns the store directory holding the versions of the
// module path, such as "download/modferry.test/!upper/@v".
func VersionDir(path string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	return Root + "/" + esc + "/@v", nil
}

// Name returns the store name of one file of a module version.
func Name(v module.Version, k Kind) (string, error) {
	dir, err := VersionDir(v.Path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(v.Version)
	if err != nil {
		return "", err
	}
	return dir + "/" + ev + "." + string(k), nil
}

// ParseName is the inverse of Name for names below Root.
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
	switch k {
	case Info, Mod, Zip, ZipHash, Gone:
	default:
		return module.Version{}, "", fmt.Errorf("%q: unknown file kind %q", name, k)
	}
	path, err := module.UnescapePath(escPath)
	if err != nil {
		return module.Version{}, "", err
	}
	ver, err := module.UnescapeVersion(file[:i])
	if err != nil {
		return module.Version{}, "", err
	}
	if err := module.Check(path, ver); err != nil {
		return module.Version{}, "", err
	}
	return module.Version{Path: path, Version: ver}, k, nil
}

// PendingRoot is the store directory of publish intents: while a version
// is being published, "pending/<escaped path>/@v/<escaped version>"
// exists, and until its .info exists beside its other files, none of its
// files is served (see package publish).
const PendingRoot = "pending"

// PendingName returns the store name of the publish intent of v.
func PendingName(v module.Version) (string, error) {
	esc, err := module.EscapePath(v.Path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(v.Version)
	if err != nil {
		return "", err
	}
	return PendingRoot + "/" + esc + "/@v/" + ev, nil
}

// Pending reports whether a publish of v has begun and not finished (or
// was interrupted and not yet recovered): its files must not be served.
func (r *Repo) Pending(ctx context.Context, v module.Version) (bool, error) {
	name, err := PendingName(v)
	if err != nil {
		return false, err
	}
	return store.Exists(ctx, r.Store, name)
}

// InfoJSON is the content of a .info file.
type InfoJSON struct {
	Version string
	Time    time.Time       `json:",omitzero"`
	Origin  json.RawMessage `json:",omitempty"`
}

// Repo reads and writes module versions in a store.
type Repo struct {
	Store store.Store
}

// versionFiles maps each version in a module's @v directory to the kinds
// of files it has.
func (r *Repo) versionFiles(ctx context.Context, path string) (map[string]map[Kind]bool, error) {
	dir, err := VersionDir(path)
	if err != nil {
		return nil, err
	}
	names, err := r.Store.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[Kind]bool)
	for _, n := range names {
		i := strings.LastIndexByte(n, '.')
		if i < 0 || strings.HasSuffix(n, "/") {
			continue
		}
		v, err := module.UnescapeVersion(n[:i])
		if err != nil {
			continue
		}
		m := out[v]
		if m == nil {
			m = make(map[Kind]bool, 4)
			out[v] = m
		}
		m[Kind(n[i+1:])] = true
	}
	return out, nil
}

// complete reports whether a version's files make it listable.
func complete(k map[Kind]bool) bool {
	return k[Info] && k[Mod] && k[Zip] && !k[Gone]
}

// Versions returns the complete versions of the module path, sorted by
// semver, pseudo-versions included.
func (r *Repo) Versions(ctx context.Context, path string) ([]string, error) {
	files, err := r.versionFiles(ctx, path)
	if err != nil {
		return nil, err
	}
	var vs []string
	for v, k := range files {
		if complete(k) && semver.IsValid(v) {
			vs = append(vs, v)
		}
	}
	semver.Sort(vs)
	return vs, nil
}

// List returns what a GOPROXY answers for $module/@v/list: the complete
// release and pre-release versions, without pseudo-versions, in semver
// order.
func (r *Repo) List(ctx context.Context, path string) ([]string, error) {
	vs, err := r.Versions(ctx, path)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(vs, module.IsPseudoVersion), nil
}

// Latest returns the version $module/@latest names: the highest release,
// else the highest pre-release, else the highest pseudo-version. It
// returns an error matching fs.ErrNotExist when there is none.
func (r *Repo) Latest(ctx context.Context, path string) (string, error) {
	vs, err := r.Versions(ctx, path)
	if err != nil {
		return "", err
	}
	return ChooseLatest(vs), notExistIfEmpty(vs, path)
}

// ChooseLatest picks from semver-sorted versions as the go command does
// for @latest.
func ChooseLatest(sorted []string) string {
	var release, pre, pseudo string
	for _, v := range sorted {
		switch {
		case module.IsPseudoVersion(v):
			pseudo = v
		case semver.Prerelease(v) != "":
			pre = v
		default:
			release = v
		}
	}
	for _, v := range []string{release, pre, pseudo} {
		if v != "" {
			return v
		}
	}
	return ""
}

func notExistIfEmpty(vs []string, path string) error {
	if len(vs) == 0 {
		return &fs.PathError{Op: "latest", Path: path, Err: fs.ErrNotExist}
	}
	return nil
}

// GoneRecord is the content of a .gone file.
type GoneRecord struct {
	Time   time.Time
	Actor  string
	Reason string
}

// IsGone reports whether the version was deleted, with the record.
func (r *Repo) IsGone(ctx context.Context, v module.Version) (*GoneRecord, error) {
	name, err := Name(v, Gone)
	if err != nil {
		return nil, err
	}
	b, err := store.ReadAll(ctx, r.Store, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var g GoneRecord
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &g, nil
}

// Files holds the content of one module version to add. Zip may be nil
// for a version of which only the go.mod is needed; Info may be nil too,
// in which case a minimal one is written.
type Files struct {
	Info, Mod, Zip io.Reader
	// ZipHash is the zip's h1: hash, already checked by the caller.
	ZipHash string
}

// Add writes a module version's files: .mod, .zip and .ziphash, then
// .info, so that the version becomes listable only when complete. Each
// file is written atomically; files already present are replaced.
func (r *Repo) Add(ctx context.Context, v module.Version, f Files) error {
	if err := module.Check(v.Path, v.Version); err != nil {
		return err
	}
	put := func(k Kind, rd io.Reader) error {
		name, err := Name(v, k)
		if err != nil {
			return err
		}
		if err := r.Store.Put(ctx, name, rd); err != nil {
			return fmt.Errorf("%s: %w", v, err)
		}
		return nil
	}
	if f.Mod != nil {
		if err := put(Mod, f.Mod); err != nil {
			return err
		}
	}
	if f.Zip != nil {
		if err := put(Zip, f.Zip); err != nil {
			return err
		}
		if f.ZipHash != "" {
			if err := put(ZipHash, strings.NewReader(f.ZipHash)); err != nil {
				return err
			}
		}
	}
	info := f.Info
	if info == nil {
		b, _ := json.Marshal(InfoJSON{Version: v.Version})
		info = bytes.NewReader(append(b, '\n'))
	}
	return put(Info, info)
}

// WriteList rewrites the module's @v/list file from what the store holds,
// for clients that use GOPROXY=file://STORE/download.
func (r *Repo) WriteList(ctx context.Context, path string) error {
	vs, err := r.List(ctx, path)
	if err != nil {
		return err
	}
	dir, err := VersionDir(path)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return r.Store.Put(ctx, dir+"/list", strings.NewReader(b.String()))
}

// Delete removes a version: it records why in a .gone file first, then
// removes .info (unlisting it), .zip, .ziphash and .mod, and rewrites the
// list file.
func (r *Repo) Delete(ctx context.Context, v module.Version, rec GoneRecord) error {
	if err := module.Check(v.Path, v.Version); err != nil {
		return err
	}
	files, err := r.versionFiles(ctx, v.Path)
	if err != nil {
		return err
	}
	k := files[v.Version]
	if !k[Info] && !k[Mod] && !k[Zip] {
		if k[Gone] {
			return fmt.Errorf("%s: %w (deleted already)", v, fs.ErrNotExist)
		}
		return fmt.Errorf("%s: %w", v, fs.ErrNotExist)
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	name, _ := Name(v, Gone)
	if err := r.Store.Put(ctx, name, bytes.NewReader(append(b, '\n'))); err != nil {
		return err
	}
	for _, kind := range []Kind{Info, Zip, ZipHash, Mod} {
		name, _ := Name(v, kind)
		if err := r.Store.Delete(ctx, name); err != nil {
			return err
		}
	}
	return r.WriteList(ctx, v.Path)
}

// ModulePaths walks the store and returns every module path that has an
// @v directory, sorted.
func (r *Repo) ModulePaths(ctx context.Context) ([]string, error) {
	var out []string
	var walk func(dir string) error
	walk = func(dir string) error {
		names, err := r.Store.List(ctx, dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			if !strings.HasSuffix(n, "/") {
				continue
			}
			if n == "@v/" {
				esc := strings.TrimPrefix(dir, Root+"/")
				if p, err := module.UnescapePath(esc); err == nil {
					out = append(out, p)
				}
				continue
			}
			if err := walk(dir + "/" + strings.TrimSuffix(n, "/")); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(Root); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// Entry describes one stored module version.
type Entry struct {
	module.Version
	HasZip bool
	// ZipHash is the recorded h1: hash of the zip, if any.
	ZipHash string
}

// All lists every module version in the store that has at least a .mod,
// with deleted versions left out.
func (r *Repo) All(ctx context.Context) ([]Entry, error) {
	paths, err := r.ModulePaths(ctx)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, p := range paths {
		files, err := r.versionFiles(ctx, p)
		if err != nil {
			return nil, err
		}
		for v, k := range files {
			if !k[Mod] || k[Gone] {
				continue
			}
			e := Entry{Version: module.Version{Path: p, Version: v}, HasZip: k[Zip]}
			if k[ZipHash] {
				name, _ := Name(e.Version, ZipHash)
				if b, err := store.ReadAll(ctx, r.Store, name); err == nil {
					e.ZipHash = strings.TrimSpace(string(b))
				}
			}
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return semver.Compare(a.Version.Version, b.Version.Version)
	})
	return out, nil
}
