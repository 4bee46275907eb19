package sbom

import (
	"archive/zip"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/google/licensecheck"
	"golang.org/x/mod/module"
)

// Limits on what ZipLicenses reads: licence files are small, and a zip
// from an upstream is untrusted.
const (
	maxLicenseFiles    = 16
	maxLicenseFileSize = 1 << 20
)

// ZipLicenses returns the SPDX identifiers (sorted, each once) of the
// licences github.com/google/licensecheck recognises in the licence files
// at the root of a module zip: files whose name, upper-cased, contains
// LICENSE or LICENCE, or starts with COPYING, COPYRIGHT, NOTICE or
// UNLICENSE (LICENSE, LICENSE.md, COPYING, LICENSE-APACHE, MIT-LICENSE,
// NOTICE.txt...). Licence files in subdirectories belong to nested
// packages or vendored code, not to the module, and are not read. None
// recognised gives nil (NOASSERTION in the documents). A few licensecheck
// identifiers are not SPDX ones (see IsSPDXLicense); the documents write
// them as licence names.
func ZipLicenses(zipFile string, v module.Version) ([]string, error) {
	zr, err := zip.OpenReader(zipFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	defer zr.Close()
	return zipLicenses(&zr.Reader, v)
}

func zipLicenses(zr *zip.Reader, v module.Version) ([]string, error) {
	prefix := v.Path + "@" + v.Version + "/"
	found := map[string]bool{}
	n := 0
	for _, f := range zr.File {
		rest, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || strings.Contains(rest, "/") || !IsLicenseFile(rest) {
			continue
		}
		if n++; n > maxLicenseFiles {
			break
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", v, rest, err)
		}
		text, err := io.ReadAll(io.LimitReader(rc, maxLicenseFileSize))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", v, rest, err)
		}
		WarmLicenses()
		for _, m := range licensecheck.Scan(text).Match {
			found[m.ID] = true
		}
	}
	return sortedKeys(found), nil
}

// WarmLicenses builds licensecheck's matcher of the licences it knows, the
// work its first Scan does (1-2 s of CPU on a quiet machine, far more on a
// busy one; every later Scan takes microseconds), once. An export calls it
// in the background while the go command resolves, which waits on the
// network, so that building the SBOMs does not pay for it afterwards; a
// server's first licence scan calls it on the way.
//
// Building allocates several times the 10 MB the matcher keeps: the
// garbage is given back to the system at once, or a server's resident set
// stays that much higher (132 MB idle on a store of 1,000 module versions
// against 39 MB; bench/scale.sh).
var WarmLicenses = sync.OnceFunc(func() {
	licensecheck.Scan(nil)
	debug.FreeOSMemory()
})

// IsLicenseFile reports whether a file name (at a module root) names a
// licence or notice file.
func IsLicenseFile(name string) bool {
	u := strings.ToUpper(path.Base(name))
	if strings.Contains(u, "LICENSE") || strings.Contains(u, "LICENCE") {
		return true
	}
	for _, p := range []string{"COPYING", "COPYRIGHT", "NOTICE", "UNLICENSE"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// notSPDX lists the identifiers licensecheck v0.3.1 reports that are not
// on the SPDX licence list (a test checks this list against the SPDX list
// the CycloneDX library validates with).
var notSPDX = map[string]bool{
	"Aladdin-9":                true,
	"Anti996":                  true,
	"BSD-1-Clause-Clear":       true,
	"BSD-3-Clause-NoTrademark": true,
	"CC-BY-NC-SA-3.0-US":       true,
	"CommonsClause":            true,
	"GPL-2.0-or-3.0":           true,
	"GooglePatentClause":       true,
	"GooglePatentsFile":        true,
	"MIT-NoAd":                 true,
	"Prosperity-3.0.0":         true,
}

// IsSPDXLicense reports whether an identifier licensecheck reports is an
// SPDX licence identifier.
func IsSPDXLicense(id string) bool { return id != "" && !notSPDX[id] }

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ReaderLicenses is ZipLicenses of a zip of the given size read through
// r, such as a zip kept in a store that is not a local directory.
func ReaderLicenses(r io.ReaderAt, size int64, v module.Version) ([]string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	return zipLicenses(zr, v)
}
