package depcheck

import (
	"bytes"
	"fmt"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

// modulePath is the path of modferry's module.
const modulePath = "github.com/modferry/modferry"

// layers is the package graph, lowest first: a package may import (in its
// non-test files) only module packages of lower layers. Packages are named
// relative to the module. A package in no layer and in no list below
// (one added since) is allowed anything and listed in the test log: add
// it here.
var layers = [][]string{
	// 0: foundations that import no module package: scratch space,
	// signatures, module-file naming and hashing.
	{"internal/buildinfo", "internal/connlimit", "internal/cork", "internal/diskfree", "internal/progress",
		"internal/scratch", "internal/sign", "internal/pgp", "internal/sbom", "internal/align",
		"internal/modfiles", "internal/digest", "internal/sizecache", "internal/depcheck"},
	// 1: atomic files and locks.
	{"internal/safefile"},
	// 2: module zips, the store, module resolution.
	{"internal/memzip", "internal/onezip", "internal/store", "internal/resolve"},
	// 3: what a store holds (module versions, checksum proofs, the
	// vulnerability database), other store backends, and the files kept
	// beside a store: audit log, tokens, split-bundle indexes.
	{"internal/modules", "internal/checksumdb", "internal/vulndb", "internal/store/s3store",
		"internal/audit", "internal/auth", "internal/parts", "internal/downloads"},
	// 4: the bundle format, the HTTP API's types and client, the GOPROXY
	// handler, module caches.
	{"internal/bundle", "internal/api", "internal/proxy", "internal/cacheimport", "internal/fillthrough"},
	// 5: inventories (what a store holds, and the record of those a delta
	// bundle was made against).
	{"internal/inventory"},
	// 6: publishing, trust in bundles, importing them (an import checks
	// what a delta left out against its inventory).
	{"internal/publish", "internal/trust", "internal/importer"},
	// 7: export (the connected side); what counts as tampering; what a
	// bundle or a store holds (inspect, SBOMs of a store).
	{"internal/export", "internal/tamper", "internal/inspect", "internal/sbom/storedoc", "internal/catalog",
		"internal/prune"},
	// 8: the web catalog's pages.
	{"internal/web"},
	// 9: the server.
	{"internal/server"},
	// 10: the command, and the scale benchmark's helper (bench/scale.sh).
	{"cmd/modferry", "bench/scaletool"},
}

// protocol lists the packages that define protocols and formats; they must
// not depend, even indirectly, on the server, the CLI or the end-to-end
// tests.
var protocol = []string{
	"internal/bundle", "internal/checksumdb", "internal/modfiles", "internal/sign", "internal/pgp",
	"internal/trust", "internal/vulndb", "internal/store", "internal/onezip", "internal/memzip",
	"internal/parts", "internal/safefile", "internal/scratch", "internal/audit", "internal/auth",
	"internal/inventory", "internal/align", "internal/resolve", "internal/sbom", "internal/api", "internal/digest",
}

// forbiddenToProtocol are what protocol packages must not depend on; a
// trailing "/..." covers the packages below too.
var forbiddenToProtocol = []string{"internal/server", "internal/e2e", "cmd/..."}

// isTestHelper reports whether p exists only for tests: no non-test code
// may depend on it.
func isTestHelper(p string) bool {
	switch p {
	case "internal/testupstream", "internal/tinyfs", "internal/e2e":
		return true
	}
	return strings.HasSuffix(path.Base(p), "test")
}

// pkg is one package of the module, as go list reports it.
type pkg struct {
	path    string   // relative to the module
	imports []string // module packages imported by the non-test files, relative
	deps    []string // module packages those depend on, directly or not, relative
}

// listPackages runs go list over the whole module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", modulePath+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	rel := func(list string) []string {
		var r []string
		for _, p := range strings.Fields(list) {
			if q, ok := strings.CutPrefix(p, modulePath+"/"); ok {
				r = append(r, q)
			}
		}
		return r
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list printed %q", line)
		}
		p, ok := strings.CutPrefix(f[0], modulePath+"/")
		if !ok {
			continue // the module's root package, if it ever has one
		}
		pkgs = append(pkgs, pkg{path: p, imports: rel(f[1]), deps: rel(f[2])})
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages:\n%s", len(pkgs), out)
	}
	return pkgs
}

func matches(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	return p == pattern
}

func TestDependencies(t *testing.T) {
	pkgs := listPackages(t)
	layer := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			if _, dup := layer[p]; dup {
				t.Fatalf("%s is in two layers", p)
			}
			layer[p] = i
		}
	}
	exists := map[string]bool{}
	for _, p := range pkgs {
		exists[p.path] = true
	}
	for p := range layer {
		if !exists[p] {
			t.Logf("the table names %s, which does not exist (yet)", p)
		}
	}

	var unknown []string
	for _, p := range pkgs {
		// Layers: only imports of lower layers.
		li, known := layer[p.path]
		switch {
		case known:
			for _, imp := range p.imports {
				lj, ok := layer[imp]
				switch {
				case !ok && isTestHelper(imp):
					// reported below
				case !ok:
					t.Logf("%s imports %s, which is in no layer: add it to the table", p.path, imp)
				case lj >= li:
					t.Errorf("%s (layer %d) imports %s (layer %d): a package may import only lower layers", p.path, li, imp, lj)
				}
			}
		case !isTestHelper(p.path):
			unknown = append(unknown, p.path)
		}

		// Protocol and format packages: no server, CLI or e2e code.
		if slices.Contains(protocol, p.path) {
			for _, d := range p.deps {
				for _, f := range forbiddenToProtocol {
					if matches(f, d) {
						t.Errorf("%s depends on %s (%s): protocol and format packages must not depend on %s", p.path, d, chain(pkgs, p.path, d), f)
					}
				}
			}
		}

		// Test helpers: only tests may use them.
		if !isTestHelper(p.path) {
			for _, d := range p.deps {
				if isTestHelper(d) {
					t.Errorf("%s depends on the test helper %s (%s) in its non-test code", p.path, d, chain(pkgs, p.path, d))
				}
			}
		}
	}
	if len(unknown) > 0 {
		t.Logf("packages in no layer (allowed anything; add them to the table): %s", strings.Join(unknown, ", "))
	}
}

// chain returns a shortest import path from one package to another, such
// as "a -> b -> c", to show why from depends on to.
func chain(pkgs []pkg, from, to string) string {
	imports := map[string][]string{}
	for _, p := range pkgs {
		imports[p.path] = p.imports
	}
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var path []string
			for q := to; q != ""; q = prev[q] {
				path = append(path, q)
			}
			slices.Reverse(path)
			return strings.Join(path, " -> ")
		}
		for _, imp := range imports[p] {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return fmt.Sprintf("%s -> … -> %s", from, to)
}
