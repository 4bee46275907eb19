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
//
// Package modfiles names these files and fixes the order writers commit
// them in ([modfiles.CommitOrder]).
package modules

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store"
)

// Pending reports whether a publish of v has begun and not finished (or
// was interrupted and not yet recovered): its files must not be served.
func (r *Repo) Pending(ctx context.Context, v module.Version) (bool, error) {
	name, err := modfiles.PendingName(v)
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
func (r *Repo) versionFiles(ctx context.Context, path string) (map[string]map[modfiles.Kind]bool, error) {
	dir, err := modfiles.VersionDir(path)
	if err != nil {
		return nil, err
	}
	names, err := r.Store.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[modfiles.Kind]bool)
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
			m = make(map[modfiles.Kind]bool, 4)
			out[v] = m
		}
		m[modfiles.Kind(n[i+1:])] = true
	}
	return out, nil
}

// Deleted returns the versions of path deleted on purpose (a deletion
// record not marked Pruned): they stay gone whatever an upstream lists.
func (r *Repo) Deleted(ctx context.Context, path string) (map[string]bool, error) {
	files, err := r.versionFiles(ctx, path)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for v, k := range files {
		if !k[modfiles.Gone] {
			continue
		}
		g, err := r.IsGone(ctx, module.Version{Path: path, Version: v})
		if err != nil {
			return nil, err
		}
		if g != nil && !g.Pruned {
			out[v] = true
		}
	}
	return out, nil
}

// complete reports whether a version's files make it listable.
func complete(k map[modfiles.Kind]bool) bool {
	return k[modfiles.Info] && k[modfiles.Mod] && k[modfiles.Zip] && !k[modfiles.Gone]
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
	// Pruned marks a version prune removed because nothing needed it
	// (not a deliberate delete): an import that carries it again brings
	// it back.
	Pruned bool `json:",omitempty"`
}

// IsGone reports whether the version was deleted, with the record.
func (r *Repo) IsGone(ctx context.Context, v module.Version) (*GoneRecord, error) {
	name, err := modfiles.Name(v, modfiles.Gone)
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

// Add writes a module version's files in commit order
// ([modfiles.CommitOrder]): .mod, .zip and .ziphash, then .info, so that
// the version becomes listable only when complete. Each
// file is written atomically; files already present are replaced.
func (r *Repo) Add(ctx context.Context, v module.Version, f Files) error {
	if err := module.Check(v.Path, v.Version); err != nil {
		return err
	}
	info := f.Info
	if info == nil {
		b, _ := json.Marshal(InfoJSON{Version: v.Version})
		info = bytes.NewReader(append(b, '\n'))
	}
	content := map[modfiles.Kind]io.Reader{modfiles.Mod: f.Mod, modfiles.Zip: f.Zip, modfiles.Info: info}
	if f.ZipHash != "" {
		content[modfiles.ZipHash] = strings.NewReader(f.ZipHash)
	}
	for _, k := range modfiles.CommitOrder(f.Zip != nil) {
		rd := content[k]
		if rd == nil {
			continue
		}
		name, err := modfiles.Name(v, k)
		if err != nil {
			return err
		}
		if err := r.Store.Put(ctx, name, rd); err != nil {
			return fmt.Errorf("%s: %w", v, err)
		}
	}
	return nil
}

// ListFile returns the content of the module's @v/list file once the
// versions added join what the store lists now: release and pre-release
// versions, one a line, in semver order (pseudo-versions among added are
// left out, as List leaves them out).
func (r *Repo) ListFile(ctx context.Context, path string, added ...string) ([]byte, error) {
	vs, err := r.List(ctx, path)
	if err != nil {
		return nil, err
	}
	for _, v := range added {
		if !module.IsPseudoVersion(v) && !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	semver.Sort(vs)
	return modfiles.ListFile(vs), nil
}

// WriteList rewrites the module's @v/list file from what the store holds,
// for clients that use GOPROXY=file://STORE/download.
func (r *Repo) WriteList(ctx context.Context, path string) error {
	name, err := modfiles.ListName(path)
	if err != nil {
		return err
	}
	b, err := r.ListFile(ctx, path)
	if err != nil {
		return err
	}
	return r.Store.Put(ctx, name, bytes.NewReader(b))
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
	left := k[modfiles.Info] || k[modfiles.Mod] || k[modfiles.Zip] || k[modfiles.ZipHash]
	if k[modfiles.Gone] {
		// Deleted already, or a delete (or prune) that stopped part
		// way: finish it. A deliberate delete of a version prune
		// removed replaces prune's record, so that the version stays
		// gone (an import brings a pruned one back).
		if !rec.Pruned {
			g, err := r.IsGone(ctx, v)
			if err != nil {
				return err
			}
			if g != nil && g.Pruned {
				if err := r.putGone(ctx, v, rec); err != nil {
					return err
				}
				return r.finishDelete(ctx, v)
			}
		}
		if left {
			return r.finishDelete(ctx, v)
		}
		// Only the list may be left (a delete that stopped after its
		// files); nothing else changes.
		if err := r.WriteList(ctx, v.Path); err != nil {
			return err
		}
		return fmt.Errorf("%s: %w (deleted already)", v, fs.ErrNotExist)
	}
	if !k[modfiles.Info] && !k[modfiles.Mod] && !k[modfiles.Zip] {
		return fmt.Errorf("%s: %w", v, fs.ErrNotExist)
	}
	if err := r.putGone(ctx, v, rec); err != nil {
		return err
	}
	return r.finishDelete(ctx, v)
}

// FinishDelete finishes the deletion of v if one stopped part way (its
// record is written, some of its files or its list are left), and does
// nothing when v has no deletion record: a version revived meanwhile (an
// import or a fill-through fetch removed prune's record) is left alone.
func (r *Repo) FinishDelete(ctx context.Context, v module.Version) error {
	g, err := r.IsGone(ctx, v)
	if err != nil || g == nil {
		return err
	}
	return r.finishDelete(ctx, v)
}

// putGone writes v's deletion record rec and notes the removal.
func (r *Repo) putGone(ctx context.Context, v module.Version, rec GoneRecord) error {
	b, _ := json.MarshalIndent(rec, "", "  ")
	name, _ := modfiles.Name(v, modfiles.Gone)
	if err := r.Store.Put(ctx, name, bytes.NewReader(append(b, '\n'))); err != nil {
		return err
	}
	return r.stampRemoval(ctx, v)
}

// finishDelete removes v's files, newest first (the .info, which unlists
// it), and rewrites the module's list.
func (r *Repo) finishDelete(ctx context.Context, v module.Version) error {
	for _, kind := range []modfiles.Kind{modfiles.Info, modfiles.Zip, modfiles.ZipHash, modfiles.Mod} {
		name, _ := modfiles.Name(v, kind)
		if err := r.Store.Delete(ctx, name); err != nil {
			return err
		}
	}
	if err := r.stampRemoval(ctx, v); err != nil {
		return err
	}
	return r.WriteList(ctx, v.Path)
}

// RemovalStamp is the object Delete rewrites (with the version and the
// time) once the deletion record is written and again once the files are
// removed. Its content does not matter, only that it changes: a server
// on a store kept elsewhere (S3) looks at its version once a second
// instead of asking the store again about every file it has cached
// (package proxy), so that a deletion or prune reaches every replica
// within about a second at the cost of one request a second per replica.
const RemovalStamp = "state/removals"

func (r *Repo) stampRemoval(ctx context.Context, v module.Version) error {
	b, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{v.String(), time.Now().UTC()})
	if err := r.Store.Put(ctx, RemovalStamp, bytes.NewReader(append(b, '\n'))); err != nil {
		return fmt.Errorf("%s: noting the removal for the servers' caches: %w", v, err)
	}
	return nil
}

// AdditionStamp is the object rewritten once module versions were added
// to the store and made visible: after an import's commit, a publish,
// an import --cache-dir, and a version fetched through fill-through. Its
// content does not matter, only that it changes: a catalog on a store
// kept elsewhere (S3) reads it and RemovalStamp before each periodic
// refresh and, while neither changed since its last complete walk, skips
// the walk of every module directory (a listing each), walking anyway
// every few refreshes for writers that do not stamp (package catalog).
const AdditionStamp = "state/additions"

// StampAddition rewrites AdditionStamp, saying what was added.
func StampAddition(ctx context.Context, st store.Store, what string) error {
	var nonce [8]byte
	rand.Read(nonce[:])
	b, _ := json.Marshal(struct {
		Added string
		Time  time.Time
		Nonce string
	}{what, time.Now().UTC(), hex.EncodeToString(nonce[:])})
	if err := st.Put(ctx, AdditionStamp, bytes.NewReader(append(b, '\n'))); err != nil {
		return fmt.Errorf("%s: noting the addition for the catalogs of servers: %w", what, err)
	}
	return nil
}

// ModulePaths walks the store and returns every module path that has an
// @v directory, sorted.
func (r *Repo) ModulePaths(ctx context.Context) ([]string, error) {
	dirs, err := ModuleDirs(ctx, r.Store, store.ListWorkers(r.Store))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = d.Path
	}
	return out, nil
}

// ModuleDir is a module's directory in a store.
type ModuleDir struct {
	Path string // the module path
	Dir  string // its directory, which holds "@v/": "download/<escaped path>"
}

// ModuleDirs lists the directories under modfiles.Root that hold an @v
// directory, sorted by module path. It walks the tree a level at a time,
// listing up to workers directories at once: on an object store each
// listing is a round trip, and a store of a thousand modules has several
// thousand directories. The go command's checksum-database cache
// (download/sumdb in a GOMODCACHE store) is not walked.
func ModuleDirs(ctx context.Context, st store.Store, workers int) ([]ModuleDir, error) {
	var out []ModuleDir
	level := []string{modfiles.Root}
	for len(level) > 0 {
		listings := make([][]string, len(level))
		err := store.EachLimit(ctx, workers, len(level), func(ctx context.Context, i int) (err error) {
			listings[i], err = st.List(ctx, level[i])
			return err
		})
		if err != nil {
			return nil, err
		}
		var next []string
		for i, dir := range level {
			for _, n := range listings[i] {
				sub, ok := strings.CutSuffix(n, "/")
				switch {
				case !ok || dir == modfiles.Root && sub == "sumdb":
				case sub == "@v":
					esc := strings.TrimPrefix(dir, modfiles.Root+"/")
					if p, err := module.UnescapePath(esc); err == nil {
						out = append(out, ModuleDir{Path: p, Dir: dir})
					}
				default:
					next = append(next, dir+"/"+sub)
				}
			}
		}
		level = next
	}
	slices.SortFunc(out, func(a, b ModuleDir) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Entry describes one stored module version.
type Entry struct {
	module.Version
	HasZip bool
	// HasInfo: the version has its .info. A zip without one is a
	// version being written (a publish, an import, a fetch) or one
	// whose writer was interrupted: not served, so not held whole.
	HasInfo bool
	// ZipHash is the recorded h1: hash of the zip, if any.
	ZipHash string
}

// All lists every module version in the store that has at least a .mod,
// with deleted versions left out.
func (r *Repo) All(ctx context.Context) ([]Entry, error) {
	es, _, err := r.AllAndUnfinished(ctx)
	return es, err
}

// AllAndUnfinished returns what All does and, from the same walk, the
// deleted versions that still have files: deletions (delete, prune) that
// stopped part way, which deleting them again finishes.
func (r *Repo) AllAndUnfinished(ctx context.Context) ([]Entry, []module.Version, error) {
	paths, err := r.ModulePaths(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Each module's listing and recorded zip hashes, several modules at
	// once: on a large store (or one reached over the network) this is
	// one read per version, which a loop would wait on one by one.
	per := make([][]Entry, len(paths))
	unfinished := make([][]module.Version, len(paths))
	err = store.Each(ctx, len(paths), func(ctx context.Context, i int) error {
		p := paths[i]
		files, err := r.versionFiles(ctx, p)
		if err != nil {
			return err
		}
		for v, k := range files {
			if k[modfiles.Gone] && (k[modfiles.Info] || k[modfiles.Mod] || k[modfiles.Zip] || k[modfiles.ZipHash]) {
				unfinished[i] = append(unfinished[i], module.Version{Path: p, Version: v})
			}
			if !k[modfiles.Mod] || k[modfiles.Gone] {
				continue
			}
			e := Entry{Version: module.Version{Path: p, Version: v}, HasZip: k[modfiles.Zip], HasInfo: k[modfiles.Info]}
			if k[modfiles.ZipHash] {
				name, _ := modfiles.Name(e.Version, modfiles.ZipHash)
				b, err := store.ReadAll(ctx, r.Store, name)
				switch {
				case err == nil:
					e.ZipHash = strings.TrimSpace(string(b))
				case !errors.Is(err, fs.ErrNotExist): // gone since the listing: no hash
					return err
				}
			}
			per[i] = append(per[i], e)
		}
		slices.SortFunc(per[i], func(a, b Entry) int {
			return semver.Compare(a.Version.Version, b.Version.Version)
		})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// paths is sorted, so the modules' lists, each sorted by version,
	// follow one another in order.
	n := 0
	for _, es := range per {
		n += len(es)
	}
	out := make([]Entry, 0, n)
	for _, es := range per {
		out = append(out, es...)
	}
	return out, slices.Concat(unfinished...), nil
}
