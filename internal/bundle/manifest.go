package bundle

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"

	"github.com/modferry/modferry/internal/digest"
	"github.com/modferry/modferry/internal/modfiles"
)

// FormatVersion is the bundle format this package reads and writes.
const FormatVersion = 1

// Size limits. A member over its limit is rejected before it is read.
const (
	MaxManifestSize  = 64 << 20
	MaxSignatureSize = 16 << 10
	maxInfoSize      = 1 << 20
	maxSBOMSize      = 1 << 30
	maxSumDBFileSize = 1 << 20
	// maxVulnDBFileSize bounds one vulnerability database file; the
	// largest, index/modules.json, is ~1 MB today.
	maxVulnDBFileSize = 64 << 20
	maxTextField      = 4096
)

// Manifest describes a bundle. It is the first member, MANIFEST.json, and
// the message the signature signs.
type Manifest struct {
	FormatVersion int       `json:"formatVersion"`
	Created       time.Time `json:"created"` // UTC, whole seconds; also every member's mtime
	ToolVersion   string    `json:"toolVersion"`
	Projects      []Project `json:"projects"`
	// BaseInventory is the SHA-256 (hex) of the inventory a delta bundle was
	// made against; empty for a full bundle.
	BaseInventory string     `json:"baseInventory,omitempty"`
	SumDB         *SumDBInfo `json:"sumdb,omitempty"`
	// VulnDB describes the vulnerability database the vulndb/ members
	// hold; nil when there are none.
	VulnDB  *VulnDBInfo `json:"vulndb,omitempty"`
	Modules []Module    `json:"modules"`
	Files   []File      `json:"files"`
}

// Project is a source project the bundle was exported for.
type Project struct {
	Path        string `json:"path"`                  // directory or module@version given to export
	VCSRevision string `json:"vcsRevision,omitempty"` // empty when not in version control
	GoSumSHA256 string `json:"goSumSHA256,omitempty"` // hex SHA-256 of go.sum (or go.work.sum), if any
}

// SumDBInfo names the checksum database whose proofs the bundle carries.
type SumDBInfo struct {
	Name string `json:"name"` // e.g. "sum.golang.org"
	// Key is the database's note verifier key ("name+hash+base64").
	Key string `json:"key,omitempty"`
	// TreeHead is the signed tree head every carried proof leads to, as
	// "SIZE ROOTHASH" (the signed note itself is the sumdb/NAME/latest member).
	TreeHead string `json:"treeHead,omitempty"`
	// NotCovered lists the module versions the exporter's GONOSUMDB or
	// GOPRIVATE kept out of the database; they carry no proof.
	NotCovered []string `json:"notCovered,omitempty"`
}

// VulnDBInfo describes the bundled Go vulnerability database.
type VulnDBInfo struct {
	// Source is the module version it was converted from, such as
	// "golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018".
	Source string `json:"source"`
	// Modified is the database's modified time (its index/db.json).
	Modified time.Time `json:"modified"`
	// Entries is the number of OSV entries.
	Entries int `json:"entries"`
}

// Module is one module version in the bundle.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	ZipHash string `json:"zipHash,omitempty"` // "h1:..." of the zip; empty when only the .mod is bundled
	ModHash string `json:"modHash"`           // "h1:..." of the go.mod, as in go.sum "/go.mod" lines
}

// ModuleVersion returns m as a module.Version.
func (m Module) ModuleVersion() module.Version {
	return module.Version{Path: m.Path, Version: m.Version}
}

// File is a member of the bundle other than the manifest and its signature.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// Marshal returns the canonical JSON encoding of m: Created in UTC whole
// seconds, projects sorted by path, modules by path and semantic version,
// files in member order (SBOMs, download/, sumdb/, each sorted by name),
// two-space indentation and a final newline. Marshal does not modify m.
func (m *Manifest) Marshal() ([]byte, error) {
	c := m.canonical()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// canonical returns a copy of m in canonical order.
func (m *Manifest) canonical() *Manifest {
	c := *m
	c.Created = m.Created.UTC().Truncate(time.Second)
	c.Projects = slices.Clone(m.Projects)
	c.Modules = slices.Clone(m.Modules)
	c.Files = slices.Clone(m.Files)
	if c.Projects == nil {
		c.Projects = []Project{}
	}
	if c.Modules == nil {
		c.Modules = []Module{}
	}
	if c.Files == nil {
		c.Files = []File{}
	}
	if m.SumDB != nil {
		s := *m.SumDB
		c.SumDB = &s
	}
	if m.VulnDB != nil {
		v := *m.VulnDB
		v.Modified = v.Modified.UTC()
		c.VulnDB = &v
	}
	slices.SortFunc(c.Projects, func(a, b Project) int { return cmp.Compare(a.Path, b.Path) })
	slices.SortFunc(c.Modules, func(a, b Module) int {
		if n := cmp.Compare(a.Path, b.Path); n != 0 {
			return n
		}
		if n := semver.Compare(a.Version, b.Version); n != 0 {
			return n
		}
		return cmp.Compare(a.Version, b.Version)
	})
	slices.SortFunc(c.Files, func(a, b File) int {
		if n := cmp.Compare(fileRank(a.Path), fileRank(b.Path)); n != 0 {
			return n
		}
		return cmp.Compare(a.Path, b.Path)
	})
	return &c
}

func fileRank(name string) int {
	switch {
	case strings.HasPrefix(name, "sbom."):
		return 0
	case strings.HasPrefix(name, "download/"):
		return 1
	case strings.HasPrefix(name, "sumdb/"):
		return 2
	case strings.HasPrefix(name, VulnDBPrefix):
		return 3
	}
	return 4
}

// ParseManifest decodes and validates a manifest. It accepts only what
// Marshal writes for a valid manifest: unknown fields, duplicate entries,
// unsafe or unknown member names, malformed hashes, invalid module paths or
// versions, download files of unlisted modules, a go.mod hash that does not
// match its file, and any non-canonical encoding are errors wrapping
// ErrBadManifest.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadManifest, MaxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	canon, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if !bytes.Equal(canon, data) {
		return nil, fmt.Errorf("%w: %w: not the canonical encoding (field order, spacing, sorting, duplicate keys)", ErrBadManifest, ErrNonCanonical)
	}
	return &m, nil
}

// Validate checks the rules ParseManifest enforces, except the encoding.
// Errors wrap ErrBadManifest.
func (m *Manifest) Validate() error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	return nil
}

// validate checks the manifest's rules part by part; the parts after the
// header depend on the ones before (files on the databases described,
// modules on the files, the download files on the modules).
func (m *Manifest) validate() error {
	if err := m.validateHeader(); err != nil {
		return err
	}
	if err := m.validateSumDB(); err != nil {
		return err
	}
	if err := m.validateVulnDB(); err != nil {
		return err
	}
	if err := m.validateProjects(); err != nil {
		return err
	}
	files, err := m.validateFiles()
	if err != nil {
		return err
	}
	modules, err := m.validateModules(files)
	if err != nil {
		return err
	}
	return m.validateDownloads(modules)
}

// validateHeader checks the format version, the creation time, the tool
// version and the base inventory digest.
func (m *Manifest) validateHeader() error {
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("format version %d, want %d", m.FormatVersion, FormatVersion)
	}
	if m.Created.IsZero() || m.Created.Year() < 1970 || m.Created.Year() > 9999 {
		return fmt.Errorf("bad creation time %v", m.Created)
	}
	if err := checkText("toolVersion", m.ToolVersion, true); err != nil {
		return err
	}
	if m.BaseInventory != "" && !digest.IsHex(m.BaseInventory) {
		return fmt.Errorf("baseInventory %q is not a hex SHA-256", m.BaseInventory)
	}
	return nil
}

// validateSumDB checks the description of the checksum database, if any.
func (m *Manifest) validateSumDB() error {
	if m.SumDB == nil {
		return nil
	}
	if err := checkSumDBName(m.SumDB.Name); err != nil {
		return fmt.Errorf("sumdb: %v", err)
	}
	if err := checkText("sumdb.treeHead", m.SumDB.TreeHead, false); err != nil {
		return err
	}
	if err := checkText("sumdb.key", m.SumDB.Key, false); err != nil {
		return err
	}
	for i, nc := range m.SumDB.NotCovered {
		if err := checkText(fmt.Sprintf("sumdb.notCovered[%d]", i), nc, true); err != nil {
			return err
		}
	}
	return nil
}

// validateVulnDB checks the description of the vulnerability database,
// if any.
func (m *Manifest) validateVulnDB() error {
	if m.VulnDB == nil {
		return nil
	}
	if err := checkText("vulndb.source", m.VulnDB.Source, true); err != nil {
		return err
	}
	if m.VulnDB.Modified.IsZero() || m.VulnDB.Entries < 0 {
		return fmt.Errorf("vulndb: no modified time or a negative entry count")
	}
	return nil
}

// validateProjects checks each project, and that none is listed twice.
func (m *Manifest) validateProjects() error {
	projects := make(map[string]bool)
	for i, p := range m.Projects {
		if err := checkText(fmt.Sprintf("projects[%d].path", i), p.Path, true); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("projects[%d].vcsRevision", i), p.VCSRevision, false); err != nil {
			return err
		}
		if p.GoSumSHA256 != "" && !digest.IsHex(p.GoSumSHA256) {
			return fmt.Errorf("projects[%d].goSumSHA256 %q is not a hex SHA-256", i, p.GoSumSHA256)
		}
		if projects[p.Path] {
			return fmt.Errorf("%w: project %q listed twice", ErrDuplicate, p.Path)
		}
		projects[p.Path] = true
	}
	return nil
}

// validateFiles checks each listed member: a safe name of a kind the
// manifest describes, listed once, with a well-formed hash and a size
// within its kind's limit. It returns the files by member name.
func (m *Manifest) validateFiles() (map[string]File, error) {
	files := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		mem, err := ParseMemberPath(f.Path)
		if err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
		if mem.Kind == KindManifest || mem.Kind == KindSignature {
			return nil, fmt.Errorf("files: %w: %q cannot be listed", ErrUnsafePath, f.Path)
		}
		if mem.Kind == KindSumDB && (m.SumDB == nil || mem.SumDB != m.SumDB.Name) {
			return nil, fmt.Errorf("files: %q is not in the manifest's checksum database", f.Path)
		}
		if mem.Kind == KindVulnDB && m.VulnDB == nil {
			return nil, fmt.Errorf("files: %q is a vulnerability database file, but the manifest describes no vulndb", f.Path)
		}
		if _, dup := files[f.Path]; dup {
			return nil, fmt.Errorf("files: %w: %q listed twice", ErrDuplicate, f.Path)
		}
		if !digest.IsHex(f.SHA256) {
			return nil, fmt.Errorf("files: %q: sha256 %q is not lower-case hex SHA-256", f.Path, f.SHA256)
		}
		if limit := sizeLimit(mem); f.Size < 0 || f.Size > limit {
			return nil, fmt.Errorf("files: %w: %q: size %d outside 0..%d", ErrTooLarge, f.Path, f.Size, limit)
		}
		files[f.Path] = f
	}
	return files, nil
}

// validateModules checks each module version: valid, listed once, with
// its download files in files (validateListed). It returns the set of
// versions.
func (m *Manifest) validateModules(files map[string]File) (map[module.Version]bool, error) {
	modules := make(map[module.Version]bool, len(m.Modules))
	for _, mod := range m.Modules {
		mv := mod.ModuleVersion()
		if err := modfiles.Check(mv); err != nil {
			return nil, fmt.Errorf("modules: %w", err)
		}
		if modules[mv] {
			return nil, fmt.Errorf("modules: %w: %s listed twice", ErrDuplicate, mv)
		}
		modules[mv] = true
		if err := mod.validateListed(files); err != nil {
			return nil, fmt.Errorf("modules: %w", module.VersionError(mv, err))
		}
	}
	return modules, nil
}

// validateListed checks the download files listed for mod: its .mod with
// the hash modHash says, and a .zip exactly when it has a zipHash.
func (mod Module) validateListed(files map[string]File) error {
	mv := mod.ModuleVersion()
	modPath, _ := DownloadPath(mv, modfiles.Mod)
	mf, ok := files[modPath]
	if !ok {
		return fmt.Errorf("%w: %s is not listed in files", ErrMissingMember, modPath)
	}
	if !isH1(mod.ModHash) {
		return fmt.Errorf("modHash %q is not an h1: hash", mod.ModHash)
	}
	if h := modfiles.HashModSHA256(mf.SHA256); h != mod.ModHash {
		return fmt.Errorf("%w: modHash %s, but the go.mod listed hashes to %s", ErrHashMismatch, mod.ModHash, h)
	}
	zipPath, _ := DownloadPath(mv, modfiles.Zip)
	_, hasZip := files[zipPath]
	switch {
	case mod.ZipHash == "" && hasZip:
		return fmt.Errorf("%s is listed but zipHash is empty", zipPath)
	case mod.ZipHash != "" && !hasZip:
		return fmt.Errorf("%w: %s is not listed in files", ErrMissingMember, zipPath)
	case mod.ZipHash != "" && !isH1(mod.ZipHash):
		return fmt.Errorf("zipHash %q is not an h1: hash", mod.ZipHash)
	}
	return nil
}

// validateDownloads checks that every download file belongs to a listed
// module version, and that no zip is over the module zip limit.
func (m *Manifest) validateDownloads(modules map[module.Version]bool) error {
	for _, f := range m.Files {
		mem, _ := ParseMemberPath(f.Path)
		if mem.Kind != KindDownload {
			continue
		}
		if !modules[mem.Module] {
			return fmt.Errorf("files: %q belongs to %s, which is not in modules", f.Path, mem.Module)
		}
		if mem.FileKind == modfiles.Zip && f.Size > modzip.MaxZipFile {
			return fmt.Errorf("files: %w: %q larger than the module zip limit", ErrTooLarge, f.Path)
		}
	}
	return nil
}

func sizeLimit(mem Member) int64 {
	switch mem.Kind {
	case KindSBOM:
		return maxSBOMSize
	case KindSumDB:
		return maxSumDBFileSize
	case KindVulnDB:
		return maxVulnDBFileSize
	case KindDownload:
		switch mem.FileKind {
		case modfiles.Info:
			return maxInfoSize
		case modfiles.Mod:
			return modzip.MaxGoMod
		case modfiles.Zip:
			return modzip.MaxZipFile
		}
	}
	return 0
}

func checkText(field, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if len(s) > maxTextField {
		return fmt.Errorf("%s longer than %d bytes", field, maxTextField)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}

func isH1(s string) bool {
	b, ok := strings.CutPrefix(s, "h1:")
	if !ok {
		return false
	}
	sum, err := base64.StdEncoding.Strict().DecodeString(b)
	return err == nil && len(sum) == 32 && base64.StdEncoding.EncodeToString(sum) == b
}
