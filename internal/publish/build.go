package publish

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/scratch"
)

// ErrInvalid is matched by errors for a module that breaks the rules in
// the package documentation (HTTP 400 at the server).
var ErrInvalid = errors.New("invalid module")

// ErrTooLarge is matched by errors for an upload over a size limit of the
// module zip rules (HTTP 413 at the server).
var ErrTooLarge = errors.New("upload too large")

// A Module is one version built and checked, ready for [Publish]. Its zip
// is a temporary file that Close removes.
type Module struct {
	Version module.Version
	Mod     []byte    // the .mod file
	Time    time.Time // the .info time
	ZipPath string    // the module zip, on local disk
	Hash    string    // h1: hash of the zip (the go.sum line)
	ModHash string    // h1: hash of the .mod (the go.sum /go.mod line)
	// AuditIntent is the seq of the audit log's intent entry that records
	// this publish, if any: an interrupted publish's intent carries it,
	// so that the entry Recover's caller writes confirms that intent.
	AuditIntent int64

	tmp  bool     // ZipPath is ours to remove
	held *os.File // ZipPath open, holding its scratch lock until Close
}

// Close removes the temporary zip file, if the Module made one.
func (m *Module) Close() error {
	if m == nil || !m.tmp {
		return nil
	}
	m.tmp = false
	if m.held != nil {
		m.held.Close()
		m.held = nil
	}
	return os.Remove(m.ZipPath)
}

// Info returns the .info file: {"Version","Time"} and a newline.
func (m *Module) Info() []byte {
	t := m.Time.UTC().Truncate(time.Second)
	return []byte(fmt.Sprintf("{\"Version\":%q,\"Time\":%q}\n", m.Version.Version, t.Format(time.RFC3339)))
}

// FromDir builds v from the source directory dir by the module zip rules
// (zip.CreateFromDir) and checks it. A zero t means now.
func FromDir(v module.Version, dir string, t time.Time) (*Module, error) {
	if err := checkVersion(v); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("source directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("source %s is not a directory", dir)
	}
	return build(v, t, func(w io.Writer) error { return modzip.CreateFromDir(w, v, dir) })
}

// FromGit builds v from revision rev (a tag, usually) of the git work tree
// repo, using the files of subdir ("" for the repository root), as the go
// command would from a VCS host (zip.CreateFromVCS). The .info time is the
// commit time.
func FromGit(ctx context.Context, v module.Version, repo, rev, subdir string) (*Module, error) {
	if err := checkVersion(v); err != nil {
		return nil, err
	}
	if rev == "" || strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("git revision %q: want a tag or commit", rev)
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "git", "-C", abs, "log", "-1", "--no-show-signature", "--format=%cI", rev, "--").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, fmt.Errorf("git repository %s at %s: %w", repo, rev, err)
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
	if err != nil {
		return nil, fmt.Errorf("git repository %s at %s: commit time %q: %v", repo, rev, out, err)
	}
	return build(v, t, func(w io.Writer) error { return modzip.CreateFromVCS(w, v, abs, rev, subdir) })
}

// FromFiles checks a zip and .mod received from elsewhere (an upload) and
// returns them as a Module. The zip must be exactly one zip archive
// (package onezip) and follow the module zip rules; the Module's zip is
// then a canonical copy made by golang.org/x/mod/zip from the files read,
// in the same directory, which Close removes. The zip file zipPath stays
// the caller's. A zero t means now.
func FromFiles(v module.Version, mod []byte, zipPath string, t time.Time) (*Module, error) {
	if err := checkVersion(v); err != nil {
		return nil, err
	}
	if err := checkOneZip(v, zipPath); err != nil {
		return nil, err
	}
	up := &Module{Version: v, Mod: mod, Time: orNow(t), ZipPath: zipPath}
	if err := up.check(); err != nil {
		return nil, err
	}
	canon, err := recreate(v, zipPath)
	if err != nil {
		return nil, err
	}
	m := &Module{Version: v, Mod: mod, Time: up.Time, ZipPath: canon.Name(), tmp: true, held: canon}
	if err := m.check(); err != nil {
		m.Close()
		return nil, err
	}
	if m.Hash != up.Hash {
		m.Close()
		return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("the re-created zip hashes to %s, the upload to %s", m.Hash, up.Hash)))
	}
	return m, nil
}

func build(v module.Version, t time.Time, create func(io.Writer) error) (_ *Module, err error) {
	// Held (package scratch) until Close, so that a server's
	// housekeeping on this machine never takes it for a crash leftover.
	f, err := scratch.CreateTemp("", "modferry-publish-*.zip")
	if err != nil {
		return nil, err
	}
	m := &Module{Version: v, Time: orNow(t), ZipPath: f.Name(), tmp: true, held: f}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := create(f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("%v", err)))
	}
	mod, err := zipGoMod(v, m.ZipPath)
	if err != nil {
		return nil, err
	}
	if mod == nil {
		mod = legacyGoMod(v.Path)
	}
	m.Mod = mod
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// checkVersion accepts only what a GOPROXY can serve (modfiles.Check):
// canonical versions of valid module paths.
func checkVersion(v module.Version) error {
	if err := modfiles.Check(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// check applies the rules to m's zip and .mod and sets the hashes.
func (m *Module) check() error {
	v := m.Version
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf(format, args...)))
	}
	cf, err := modzip.CheckZip(v, m.ZipPath)
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		return bad("module zip: %v", err)
	}
	zmod, err := zipGoMod(v, m.ZipPath)
	if err != nil {
		return err
	}
	incompatible := strings.HasSuffix(v.Version, "+incompatible")
	switch {
	case zmod == nil && !incompatible:
		return bad("no go.mod at the module root")
	case zmod != nil && incompatible:
		return bad("a +incompatible version must not have a go.mod (its module path would need the major version suffix)")
	case zmod == nil:
		if !bytes.Equal(m.Mod, legacyGoMod(v.Path)) {
			return bad(".mod differs from the %q the go command synthesizes for a module without go.mod", legacyGoMod(v.Path))
		}
	default:
		if !bytes.Equal(m.Mod, zmod) {
			return bad(".mod differs from the go.mod in the zip")
		}
		if len(zmod) > modzip.MaxGoMod {
			return bad("go.mod is larger than %d bytes", modzip.MaxGoMod)
		}
		path := modfile.ModulePath(zmod)
		if path == "" {
			return bad("go.mod has no module line")
		}
		if path != v.Path {
			return bad("go.mod declares module %s, not %s", path, v.Path)
		}
		if _, err := modfile.ParseLax("go.mod", zmod, nil); err != nil {
			return bad("go.mod: %v", err)
		}
	}
	if m.Hash, err = modfiles.HashZip(m.ZipPath); err != nil {
		return bad("hashing the zip: %v", err)
	}
	m.ModHash = modfiles.HashMod(m.Mod)
	return nil
}

// zipGoMod returns the go.mod at the module root of the zip, or nil if
// there is none.
func zipGoMod(v module.Version, zipPath string) ([]byte, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("module zip: %v", err)))
	}
	defer zr.Close()
	want := v.Path + "@" + v.Version + "/go.mod"
	for _, f := range zr.File {
		if f.Name != want {
			continue
		}
		if f.UncompressedSize64 > modzip.MaxGoMod {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("go.mod is larger than %d bytes", modzip.MaxGoMod)))
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("go.mod in zip: %v", err)))
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, modzip.MaxGoMod+1))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, module.VersionError(v, fmt.Errorf("go.mod in zip: %v", err)))
		}
		return b, nil
	}
	return nil, nil
}

// legacyGoMod is the go.mod the go command synthesizes for a module
// version without one (cmd/go/internal/modfetch.LegacyGoMod).
func legacyGoMod(path string) []byte {
	return []byte("module " + modfile.AutoQuote(path) + "\n")
}
