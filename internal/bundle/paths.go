package bundle

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
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

// MemberKind is the kind of a bundle member, named by its path.
type MemberKind int

const (
	KindManifest MemberKind = iota
	KindSignature
	KindSBOM
	KindDownload
	KindSumDB
	KindVulnDB
)

// A Member describes a member name that passed [ParseMemberPath].
type Member struct {
	Kind MemberKind
	// Module and FileKind are set for KindDownload: FileKind is
	// modfiles.Info, modfiles.Mod or modfiles.Zip.
	Module   module.Version
	FileKind modfiles.Kind
	// SumDB is the checksum database name for KindSumDB.
	SumDB string
	// VulnDB is the file name inside the vulnerability database for
	// KindVulnDB, such as "index/db.json" or "ID/GO-2021-0113.json".
	VulnDB string
}

// isDownloadKind reports whether a bundle carries module files of kind k.
func isDownloadKind(k modfiles.Kind) bool {
	return k == modfiles.Info || k == modfiles.Mod || k == modfiles.Zip
}

// DownloadPath returns the member name of a module file ([modfiles.Name]);
// k is modfiles.Info, modfiles.Mod or modfiles.Zip, and m must pass
// [modfiles.Check].
func DownloadPath(m module.Version, k modfiles.Kind) (string, error) {
	if !isDownloadKind(k) {
		return "", fmt.Errorf("bad download file kind %q", k)
	}
	if err := modfiles.Check(m); err != nil {
		return "", err
	}
	return modfiles.Name(m, k)
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
	if strings.HasPrefix(name, modfiles.Root+"/") {
		m, k, err := parseDownload(name)
		if err != nil {
			return Member{}, fmt.Errorf("%w: %q: %v", ErrUnsafePath, name, err)
		}
		return Member{Kind: KindDownload, Module: m, FileKind: k}, nil
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

// parseDownload parses "download/<escaped path>/@v/<escaped version>.<kind>"
// for the kinds a bundle carries and a module version that passes
// modfiles.Check, spelled exactly as DownloadPath spells it.
func parseDownload(name string) (module.Version, modfiles.Kind, error) {
	m, k, err := modfiles.ParseName(name)
	if err != nil {
		return module.Version{}, "", err
	}
	if !isDownloadKind(k) {
		return module.Version{}, "", fmt.Errorf("not a .info, .mod or .zip file")
	}
	if err := modfiles.Check(m); err != nil {
		return module.Version{}, "", err
	}
	// Escaping is one-to-one, but insist on the exact spelling.
	if want, _ := DownloadPath(m, k); want != name {
		return module.Version{}, "", fmt.Errorf("module path or version is not escaped canonically")
	}
	return m, k, nil
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
		m, err := modfiles.ParseLookupPath(sub)
		if err != nil {
			return "", err
		}
		if err := modfiles.Check(m); err != nil {
			return "", err
		}
		if want, _ := modfiles.LookupPath(m); want != sub {
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
