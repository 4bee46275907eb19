package bundle

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/vulndb"
)

// Fixed member names.
const (
	ManifestName         = "MANIFEST.json"
	SignatureName        = "MANIFEST.json.minisig"
	OpenPGPSignatureName = "MANIFEST.json.asc"
	SBOMCycloneDX        = "sbom.cdx.json"
	SBOMSPDX             = "sbom.spdx.json"
	// VulnDBPrefix starts the members of the vulnerability database.
	VulnDBPrefix = "vulndb/"
)

// Signatures are the signature members of a bundle, each the content of
// its file for exactly the MANIFEST.json bytes, or nil when absent.
type Signatures struct {
	// Minisign is MANIFEST.json.minisig, as minisign -S writes it.
	Minisign []byte
	// OpenPGP is MANIFEST.json.asc, an armored detached OpenPGP signature
	// (gpg --detach-sign --armor) with one or more signature packets.
	OpenPGP []byte
}

// Empty reports whether there is no signature at all.
func (s Signatures) Empty() bool { return s.Minisign == nil && s.OpenPGP == nil }

// members returns the signature members in bundle order, with their names.
func (s Signatures) members() []struct {
	name string
	data []byte
} {
	var out []struct {
		name string
		data []byte
	}
	for _, m := range []struct {
		name string
		data []byte
	}{{SignatureName, s.Minisign}, {OpenPGPSignatureName, s.OpenPGP}} {
		if m.data != nil {
			out = append(out, m)
		}
	}
	return out
}

// maxNameLen bounds a member name. Module paths are far shorter in practice.
const maxNameLen = 1024

// Kind is the kind of a bundle member, named by its path.
type Kind int

const (
	KindManifest Kind = iota
	KindSignature
	KindSBOM
	KindDownload
	KindSumDB
	KindVulnDB
)

// A Member describes a member name that passed [ParseMemberPath].
type Member struct {
	Kind Kind
	// Module and Ext are set for KindDownload: Ext is ".info", ".mod" or ".zip".
	Module module.Version
	Ext    string
	// SumDB is the checksum database name for KindSumDB.
	SumDB string
	// VulnDB is the file name inside the vulnerability database for
	// KindVulnDB, such as "index/db.json" or "ID/GO-2021-0113.json".
	VulnDB string
}

// DownloadPath returns the member name of a module file; ext is ".info",
// ".mod" or ".zip".
func DownloadPath(m module.Version, ext string) (string, error) {
	switch ext {
	case ".info", ".mod", ".zip":
	default:
		return "", fmt.Errorf("bad download file extension %q", ext)
	}
	if err := checkModule(m); err != nil {
		return "", err
	}
	ep, err := module.EscapePath(m.Path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(m.Version)
	if err != nil {
		return "", err
	}
	return "download/" + ep + "/@v/" + ev + ext, nil
}

// ParseMemberPath checks a member name against the format rules in the
// package documentation and says what it names. Errors wrap ErrUnsafePath.
func ParseMemberPath(name string) (Member, error) {
	if err := checkName(name); err != nil {
		return Member{}, fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
	}
	switch name {
	case ManifestName:
		return Member{Kind: KindManifest}, nil
	case SignatureName, OpenPGPSignatureName:
		return Member{Kind: KindSignature}, nil
	case SBOMCycloneDX, SBOMSPDX:
		return Member{Kind: KindSBOM}, nil
	}
	if rest, ok := strings.CutPrefix(name, "download/"); ok {
		m, ext, err := parseDownload(rest)
		if err != nil {
			return Member{}, fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
		}
		return Member{Kind: KindDownload, Module: m, Ext: ext}, nil
	}
	if rest, ok := strings.CutPrefix(name, "sumdb/"); ok {
		db, err := parseSumDB(rest)
		if err != nil {
			return Member{}, fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
		}
		return Member{Kind: KindSumDB, SumDB: db}, nil
	}
	if rest, ok := strings.CutPrefix(name, VulnDBPrefix); ok {
		if err := vulndb.CheckName(rest); err != nil {
			return Member{}, fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
		}
		return Member{Kind: KindVulnDB, VulnDB: rest}, nil
	}
	return Member{}, fmt.Errorf("%w: %q", ErrUnsafePath, name)
}

// checkName applies the rules every member name obeys.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case len(name) > maxNameLen:
		return fmt.Errorf("name longer than %d bytes", maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("name is not UTF-8")
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("absolute name")
	case strings.Contains(name, `\`):
		return fmt.Errorf("backslash in name")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return fmt.Errorf("control character in name")
		}
	}
	for elem := range strings.SplitSeq(name, "/") {
		switch elem {
		case "":
			return fmt.Errorf("empty path element")
		case ".", "..":
			return fmt.Errorf("%q path element", elem)
		}
	}
	return nil
}

// parseDownload parses "<escaped path>/@v/<escaped version><ext>".
func parseDownload(rest string) (module.Version, string, error) {
	epath, file, ok := strings.Cut(rest, "/@v/")
	if !ok {
		return module.Version{}, "", fmt.Errorf("not a module download file")
	}
	var ext string
	for _, e := range []string{".info", ".mod", ".zip"} {
		if strings.HasSuffix(file, e) {
			ext = e
			break
		}
	}
	if ext == "" {
		return module.Version{}, "", fmt.Errorf("not a .info, .mod or .zip file")
	}
	p, err := module.UnescapePath(epath)
	if err != nil {
		return module.Version{}, "", err
	}
	v, err := module.UnescapeVersion(strings.TrimSuffix(file, ext))
	if err != nil {
		return module.Version{}, "", err
	}
	m := module.Version{Path: p, Version: v}
	if err := checkModule(m); err != nil {
		return module.Version{}, "", err
	}
	// Escaping is one-to-one, but insist on the exact spelling.
	if want, _ := DownloadPath(m, ext); want != "download/"+rest {
		return module.Version{}, "", fmt.Errorf("module path or version is not escaped canonically")
	}
	return m, ext, nil
}

// checkModule checks a module path and version as the go command would
// before asking a proxy for it: a valid path, a canonical semantic version
// consistent with the path's major version suffix (+incompatible allowed).
func checkModule(m module.Version) error {
	if err := module.Check(m.Path, m.Version); err != nil {
		return err
	}
	if c := module.CanonicalVersion(m.Version); c != m.Version {
		return module.VersionError(m, errors.New("version is not canonical"))
	}
	// As the go command: a path with a major version suffix has no
	// +incompatible versions.
	if _, major, _ := module.SplitPathVersion(m.Path); major != "" && strings.HasSuffix(m.Version, "+incompatible") {
		return module.VersionError(m, errors.New("+incompatible version for a path with a major version suffix"))
	}
	return nil
}

// parseSumDB checks "<name>/latest", "<name>/lookup/<path>@<version>" and
// "<name>/tile/..." and returns name.
func parseSumDB(rest string) (string, error) {
	name, sub, ok := strings.Cut(rest, "/")
	if !ok {
		return "", fmt.Errorf("no checksum database file")
	}
	if err := checkSumDBName(name); err != nil {
		return "", err
	}
	switch {
	case sub == "latest":
		return name, nil
	case strings.HasPrefix(sub, "lookup/"):
		epath, evers, ok := strings.Cut(strings.TrimPrefix(sub, "lookup/"), "@")
		if !ok {
			return "", fmt.Errorf("lookup without @version")
		}
		p, err := module.UnescapePath(epath)
		if err != nil {
			return "", err
		}
		v, err := module.UnescapeVersion(evers)
		if err != nil {
			return "", err
		}
		m := module.Version{Path: p, Version: v}
		if err := checkModule(m); err != nil {
			return "", err
		}
		if want, _ := DownloadPath(m, ".mod"); want != "download/"+epath+"/@v/"+evers+".mod" {
			return "", fmt.Errorf("module path or version is not escaped canonically")
		}
		return name, nil
	case strings.HasPrefix(sub, "tile/"):
		t, err := tlog.ParseTilePath(sub)
		if err != nil {
			return "", err
		}
		if t.Path() != sub {
			return "", fmt.Errorf("tile path is not canonical")
		}
		return name, nil
	}
	return "", fmt.Errorf("unknown checksum database file")
}

// checkSumDBName allows host-name-like database names such as sum.golang.org.
func checkSumDBName(name string) error {
	if name == "" || len(name) > 253 || name[0] == '.' || name[0] == '-' || name[len(name)-1] == '.' {
		return fmt.Errorf("bad checksum database name %q", name)
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '.' || r == '-') {
			return fmt.Errorf("bad checksum database name %q", name)
		}
	}
	return nil
}
