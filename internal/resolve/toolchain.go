package resolve

import (
	"context"
	"errors"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// ToolchainModule is the module the go command downloads Go toolchains
// as: golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64 holds go1.27.3 for
// linux/amd64. The checksum database records its zip only.
const ToolchainModule = "golang.org/toolchain"

// ToolchainVersion returns the module version of toolchain (for example
// "go1.27.3") for goos/goarch.
func ToolchainVersion(toolchain, goos, goarch string) module.Version {
	return module.Version{Path: ToolchainModule, Version: "v0.0.1-" + toolchain + "." + goos + "-" + goarch}
}

// ErrInvalidToolchain reports a toolchain line the go command refuses.
var ErrInvalidToolchain = errors.New("invalid toolchain line")

// SelectToolchain returns the toolchain the go command whose own version
// is local (for example "go1.26.8") runs, with GOTOOLCHAIN=auto, in a
// module or workspace whose go.mod or go.work has the go line goLine and
// the toolchain line toolchainLine ("" when a line is absent). It returns
// "" when that is local itself.
//
// The rules are those of the go command's startup (cmd/go's
// toolchain.Select, https://go.dev/doc/toolchain#select):
//   - "toolchain default" keeps the local toolchain, whatever the go line;
//   - a toolchain line newer than local selects that toolchain;
//   - a go line newer than both selects that Go release; a bare language
//     version from 1.21 on ("go 1.27") selects its first release,
//     go1.27.0, without consulting any version list.
//
// The newest patch release of a family (a version list of
// golang.org/toolchain) is consulted only later, when a command finds a
// dependency that needs a newer Go than the one running; the go command
// then asks the proxy for the list itself.
func SelectToolchain(goLine, toolchainLine, local string) (string, error) {
	minVers := fromToolchain(local)
	if minVers == "" {
		return "", fmt.Errorf("local go version %q is not a Go toolchain name", local)
	}
	if toolchainLine == "default" {
		return "", nil
	}
	sel := ""
	if toolchainLine != "" {
		tv := fromToolchain(toolchainLine)
		if tv == "" || (!strings.HasPrefix(toolchainLine, "go") && !strings.Contains(toolchainLine, "-go")) {
			return "", fmt.Errorf("%w: %q", ErrInvalidToolchain, toolchainLine)
		}
		if compareGo(tv, minVers) > 0 {
			sel, minVers = toolchainLine, tv
		}
	}
	if compareGo(goLine, minVers) > 0 {
		sel = "go" + goLine
		if version.Lang("go"+goLine) == "go"+goLine && compareGo(goLine, "1.21") >= 0 {
			sel += ".0"
		}
	}
	return sel, nil
}

// fromToolchain returns the Go version of a toolchain name
// ("go1.27.3-custom" -> "1.27.3"), or "" if it names none.
func fromToolchain(name string) string {
	if strings.ContainsAny(name, `\/`) || !strings.HasPrefix(name, "go") {
		return ""
	}
	v := name[2:]
	if i := strings.IndexAny(v, " \t-"); i >= 0 {
		v = v[:i]
	}
	if !version.IsValid("go" + v) {
		return ""
	}
	return v
}

// compareGo compares Go versions without the "go" prefix ("1.27",
// "1.27rc1", "1.27.0"); an empty or invalid version is the oldest.
func compareGo(a, b string) int { return version.Compare("go"+a, "go"+b) }

// goLines returns the go and toolchain lines of a go.mod or go.work file,
// read as the go command reads them to choose a toolchain: the first line
// starting with the keyword, before any comment.
func goLines(file string) (goLine, toolchainLine string, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", "", err
	}
	return goModLookup(data, "go"), goModLookup(data, "toolchain"), nil
}

func goModLookup(data []byte, key string) string {
	for line := range strings.Lines(string(data)) {
		s, ok := strings.CutPrefix(strings.TrimSpace(line), key)
		if !ok || s == "" || (s[0] != ' ' && s[0] != '\t') {
			continue
		}
		s, _, _ = strings.Cut(s, "//")
		return strings.TrimSpace(s)
	}
	return ""
}

// projectToolchains returns the toolchains the go command selects for a
// project copy: for its root (go.work in a workspace, else go.mod), and in
// a workspace also for each module alone (go mod tidy runs with
// GOWORK=off). The first is the root's; "" means the local go.
func projectToolchains(pc *projectCopy, local string) ([]string, error) {
	if fromToolchain(local) == "" {
		return nil, nil // a development go ("devel go1.27-abcdef"): leave it to the go command
	}
	files := []string{filepath.Join(pc.Root, "go.mod")}
	if pc.Workspace {
		files = []string{filepath.Join(pc.Root, "go.work")}
		for _, m := range pc.Modules {
			files = append(files, filepath.Join(m, "go.mod"))
		}
	}
	var out []string
	for i, f := range files {
		goLine, tc, err := goLines(f)
		if err != nil {
			return nil, err
		}
		sel, err := SelectToolchain(goLine, tc, local)
		if err != nil {
			rel, _ := filepath.Rel(pc.Root, f)
			return nil, fmt.Errorf("%s: %w", filepath.Join(pc.Orig, rel), err)
		}
		if i == 0 || !slices.Contains(out, sel) {
			out = append(out, sel)
		}
	}
	return out, nil
}

// switchToolchain prepares g to run the go commands of a project as the go
// command does online by default (GOTOOLCHAIN=auto): the toolchains the
// project selects are downloaded first through the recorder with go mod
// download, which checks each against the checksum database, so that they
// are recorded even if a go1.X.Y binary in PATH would be used instead.
// It returns the runner to use and the Go version the project's root runs
// with (go env GOVERSION).
func switchToolchain(ctx context.Context, g *goRunner, pc *projectCopy, tmp string) (*goRunner, string, error) {
	sels, err := projectToolchains(pc, g.local)
	if err != nil {
		return nil, "", fmt.Errorf("resolve %s: %w", pc.Orig, err)
	}
	var names, mods []string
	for _, sel := range sels {
		// Only plain release names are in the module proxy; the go command
		// looks for others ("go1.27.3-custom") in PATH.
		if sel != "" && sel == "go"+fromToolchain(sel) {
			names = append(names, sel)
			mods = append(mods, ToolchainVersion(sel, runtime.GOOS, runtime.GOARCH).String())
		}
	}
	if len(mods) > 0 {
		if err := os.MkdirAll(tmp, 0o777); err != nil {
			return nil, "", err
		}
		if _, err := g.run(ctx, pc.Orig, tmp, moduleMode, append([]string{"mod", "download"}, mods...)...); err != nil {
			return nil, "", fmt.Errorf("the project selects Go toolchain %s for %s/%s: %w", strings.Join(names, ", "), runtime.GOOS, runtime.GOARCH, err)
		}
	}
	auto := &goRunner{rec: g.rec, proxyTail: g.proxyTail, local: g.local, zips: g.zips, env: append(slices.Clone(g.env), "GOTOOLCHAIN=auto")}
	m := moduleMode
	if pc.Workspace {
		m = workspaceMode
	}
	out, err := auto.run(ctx, pc.Orig, pc.Root, m, "env", "GOVERSION")
	if err != nil {
		return nil, "", err
	}
	return auto, strings.TrimSpace(string(out)), nil
}
