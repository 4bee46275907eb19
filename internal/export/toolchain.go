package export

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/resolve"
)

// Toolchain is a Go toolchain for one platform, which the go command
// downloads as the module golang.org/toolchain@v0.0.1-goX.Y.Z.GOOS-GOARCH
// (only its .zip, always checked against the checksum database).
type Toolchain struct {
	Go, GOOS, GOARCH string // "go1.27.3", "linux", "amd64"
}

// ParseToolchain parses "go1.27.3/linux-amd64".
func ParseToolchain(s string) (Toolchain, error) {
	gover, plat, ok := strings.Cut(s, "/")
	goos, goarch, ok2 := strings.Cut(plat, "-")
	if !ok || !ok2 || !strings.HasPrefix(gover, "go1.") || goos == "" || goarch == "" {
		return Toolchain{}, fmt.Errorf("--toolchain %q: want goX.Y.Z/GOOS-GOARCH, e.g. go1.27.3/linux-amd64, or none", s)
	}
	tc := Toolchain{Go: gover, GOOS: goos, GOARCH: goarch}
	if err := module.Check(toolchainPath, tc.Module().Version); err != nil {
		return Toolchain{}, fmt.Errorf("--toolchain %q: %v", s, err)
	}
	return tc, nil
}

func (t Toolchain) String() string { return t.Go + "/" + t.GOOS + "-" + t.GOARCH }

// Module returns the module version holding the toolchain.
func (t Toolchain) Module() module.Version {
	return module.Version{Path: toolchainPath, Version: "v0.0.1-" + t.Go + "." + t.GOOS + "-" + t.GOARCH}
}

// addToolchains puts the toolchains to carry into res and returns their
// names: those the projects' go commands downloaded during resolution
// (each project runs with the toolchain it selects, as GOTOOLCHAIN=auto
// does; left out with NoAutoToolchains), and opts.Toolchains, fetched
// from the first proxy that has them unless resolution has them already.
// Every toolchain zip is checked against the checksum database when its
// proof is captured.
func addToolchains(ctx context.Context, opts Options, res *resolve.Result, proxies []string, workDir string) ([]string, error) {
	asked := map[module.Version]bool{}
	for _, tc := range opts.Toolchains {
		asked[tc.Module()] = true
	}
	have := map[module.Version]bool{}
	if opts.NoAutoToolchains {
		res.Files = slices.DeleteFunc(res.Files, func(f resolve.File) bool {
			return f.Module.Path == toolchainPath && !asked[f.Module]
		})
	}
	for _, f := range res.Files {
		if f.Module.Path == toolchainPath && f.Kind == modfiles.Zip {
			have[f.Module] = true
		}
	}
	var client *http.Client
	for _, tc := range opts.Toolchains {
		if have[tc.Module()] {
			continue
		}
		if opts.Progress != nil {
			opts.Progress(resolve.Event{Stage: "toolchain " + tc.String()})
		}
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Minute}
		}
		files, err := fetchToolchain(ctx, client, proxies, tc, workDir)
		if err != nil {
			return nil, err
		}
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			res.Files = append(res.Files, files[k])
		}
		have[tc.Module()] = true
	}
	var names []string
	for v := range have {
		names = append(names, strings.TrimPrefix(v.Version, "v0.0.1-"))
	}
	slices.Sort(names)
	return names, nil
}

// fetchToolchain downloads a toolchain module's .info, .mod and .zip from
// the first proxy that has it, into dir.
func fetchToolchain(ctx context.Context, client *http.Client, proxies []string, tc Toolchain, dir string) (map[modfiles.Kind]resolve.File, error) {
	v := tc.Module()
	ev, _ := module.EscapeVersion(v.Version)
	var lastErr error
	for _, p := range proxies {
		files := map[modfiles.Kind]resolve.File{}
		lastErr = nil
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			name, err := modfiles.ProxyPath(v, k)
			if err != nil {
				return nil, err
			}
			url := p + "/" + name
			local := filepath.Join(dir, "toolchain", ev+"."+string(k))
			n, err := download(ctx, client, url, local)
			if err != nil {
				lastErr = err
				break
			}
			files[k] = resolve.File{Module: v, Kind: k, Path: local, Size: n}
		}
		if lastErr == nil {
			return files, nil
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no upstream proxy to fetch from")
	}
	return nil, fmt.Errorf("toolchain %s: %w", tc, lastErr)
}

// download streams url into the file local (a toolchain zip is ~100 MB).
func download(ctx context.Context, client *http.Client, url, local string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(local)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return n, nil
}
