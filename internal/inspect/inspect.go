// Package inspect describes what a bundle holds, from its manifest alone
// (bundle.ReadHead), before it is imported: projects, module counts and
// sizes, the largest modules, toolchains, signatures, the base inventory
// and checksum-database head, and against an inventory of the receiving
// store, what would be new. Sizes are the manifest's member sizes: nothing
// beyond the manifest and its signatures is read, so a report says what
// the bundle claims; only verify and import check that it holds.
package inspect

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/modfiles"
)

// LargestCount is how many of the largest module versions a report lists.
const LargestCount = 10

// toolchainPath is the module path of Go toolchains.
const toolchainPath = "golang.org/toolchain"

// Report describes a bundle. Its JSON form is inspect --json's output.
type Report struct {
	Bundle        string    `json:"bundle"`
	Bytes         int64     `json:"bytes,omitempty"` // the bundle file's size (parts: their total)
	FormatVersion int       `json:"formatVersion"`
	Created       time.Time `json:"created"`
	ToolVersion   string    `json:"toolVersion"`
	// Projects are the exported project directories and module@version
	// arguments.
	Projects []bundle.Project `json:"projects"`
	// Modules counts module versions; Zips those whose zip is carried;
	// GoModOnly those carried only for their go.mod.
	Modules   int `json:"modules"`
	Zips      int `json:"zips"`
	GoModOnly int `json:"goModOnly"`
	// ModuleBytes is the size of the module files (download/), ContentBytes
	// that of every member (uncompressed).
	ModuleBytes  int64              `json:"moduleBytes"`
	ContentBytes int64              `json:"contentBytes"`
	Largest      []ModuleSize       `json:"largest"`
	Toolchains   []string           `json:"toolchains"` // "go1.27.0.linux-amd64"
	Signatures   SignatureInfo      `json:"signatures"`
	Base         string             `json:"baseInventory,omitempty"` // SHA-256 of the inventory a delta bundle was made against
	SumDB        *SumDB             `json:"checksumDatabase,omitempty"`
	VulnDB       *bundle.VulnDBInfo `json:"vulndb,omitempty"`
	Against      *Against           `json:"against,omitempty"`
}

// ModuleSize is the size of one module version's files in the bundle.
type ModuleSize struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Bytes   int64  `json:"bytes"`
}

// SignatureInfo describes the manifest's signatures. KeyID is read from
// the minisign signature itself; Verified and Signers are set only when
// the caller checked the signatures against trusted keys.
type SignatureInfo struct {
	Minisign bool   `json:"minisign"`
	KeyID    string `json:"minisignKeyId,omitempty"`
	OpenPGP  bool   `json:"openpgp"`
	// Checked reports whether the signatures were checked; Verified
	// whether they satisfied the trust policy, and Error why not.
	Checked  bool     `json:"checked"`
	Verified bool     `json:"verified"`
	Signers  []string `json:"signers"` // "minisign:KEYID", "openpgp:FINGERPRINT"; [] when none verified
	Error    string   `json:"error,omitempty"`
}

// SumDB describes the checksum database whose proofs the bundle carries.
type SumDB struct {
	Name       string `json:"name"`
	TreeHead   string `json:"treeHead,omitempty"` // "SIZE ROOTHASH"
	NotCovered int    `json:"notCovered"`
}

// Against is what the bundle would add to a store whose inventory it is
// compared with.
type Against struct {
	// Inventory is the SHA-256 of the inventory file; BaseMatches whether
	// the bundle was made against exactly this inventory.
	Inventory   string `json:"inventory"`
	BaseMatches bool   `json:"baseMatches"`
	// New lists the module versions the store lacks (or holds only the
	// go.mod of while the bundle carries the zip); Held counts the rest.
	New      []ModuleSize `json:"new"`
	NewBytes int64        `json:"newBytes"`
	Held     int          `json:"held"`
	// Conflicts lists module versions the store holds with other hashes:
	// import would refuse the bundle.
	Conflicts []string `json:"conflicts"`
}

// New describes the bundle whose head h is. name names it in the report;
// size is its file size, if known.
func New(name string, size int64, h *bundle.Head) *Report {
	m := h.Manifest
	r := &Report{
		Bundle: name, Bytes: size, FormatVersion: m.FormatVersion, Created: m.Created.UTC(),
		ToolVersion: m.ToolVersion, Projects: slices.Clone(m.Projects), Base: m.BaseInventory,
		VulnDB: m.VulnDB, Largest: []ModuleSize{}, Toolchains: []string{},
	}
	if r.Projects == nil {
		r.Projects = []bundle.Project{}
	}
	sizes := moduleSizes(m)
	for _, f := range m.Files {
		r.ContentBytes += f.Size
	}
	for _, mod := range m.Modules {
		r.Modules++
		if mod.ZipHash == "" {
			r.GoModOnly++
		} else {
			r.Zips++
		}
		v := mod.ModuleVersion()
		r.ModuleBytes += sizes[v]
		r.Largest = append(r.Largest, ModuleSize{Path: v.Path, Version: v.Version, Bytes: sizes[v]})
		if v.Path == toolchainPath {
			if t, ok := strings.CutPrefix(v.Version, "v0.0.1-"); ok {
				r.Toolchains = append(r.Toolchains, t)
			}
		}
	}
	slices.SortStableFunc(r.Largest, func(a, b ModuleSize) int { return cmp.Compare(b.Bytes, a.Bytes) })
	r.Largest = r.Largest[:min(len(r.Largest), LargestCount)]
	if s := m.SumDB; s != nil {
		r.SumDB = &SumDB{Name: s.Name, TreeHead: s.TreeHead, NotCovered: len(s.NotCovered)}
	}
	r.Signatures = SignatureInfo{Minisign: h.Signatures.Minisign != nil, OpenPGP: h.Signatures.OpenPGP != nil, Signers: []string{}}
	if h.Signatures.Minisign != nil {
		var sig minisign.Signature
		if err := sig.UnmarshalText(h.Signatures.Minisign); err == nil {
			r.Signatures.KeyID = strings.ToUpper(strconv.FormatUint(sig.KeyID, 16))
		}
	}
	return r
}

// moduleSizes sums the sizes of each module version's download/ files.
func moduleSizes(m *bundle.Manifest) map[module.Version]int64 {
	size := make(map[string]int64, len(m.Files))
	for _, f := range m.Files {
		size[f.Path] = f.Size
	}
	out := make(map[module.Version]int64, len(m.Modules))
	for _, mod := range m.Modules {
		v := mod.ModuleVersion()
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			if name, err := bundle.DownloadPath(v, k); err == nil {
				out[v] += size[name]
			}
		}
	}
	return out
}

// Compare fills in r.Against: what the bundle adds to a store with
// inventory inv, whose file has SHA-256 digest.
func (r *Report) Compare(h *bundle.Head, inv *inventory.Inventory, digest string) {
	a := &Against{Inventory: digest, BaseMatches: h.Manifest.BaseInventory == digest, New: []ModuleSize{}, Conflicts: []string{}}
	sizes := moduleSizes(h.Manifest)
	for _, mod := range h.Manifest.Modules {
		v := mod.ModuleVersion()
		have, ok := inv.Lookup(v)
		switch {
		case ok && (have.ModHash != mod.ModHash || have.ZipHash != "" && mod.ZipHash != "" && have.ZipHash != mod.ZipHash):
			a.Conflicts = append(a.Conflicts, v.String())
		case ok && (have.ZipHash != "" || mod.ZipHash == ""):
			a.Held++
		default:
			a.New = append(a.New, ModuleSize{Path: v.Path, Version: v.Version, Bytes: sizes[v]})
			a.NewBytes += sizes[v]
		}
	}
	r.Against = a
}
