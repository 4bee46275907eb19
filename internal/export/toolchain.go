package export

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

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

// goVersionNewer reports whether go version a ("go1.27.3") is newer than
// b, comparing them as semantic versions.
func goVersionNewer(a, b string) bool {
	sa := "v" + strings.TrimPrefix(a, "go")
	sb := "v" + strings.TrimPrefix(b, "go")
	return semver.IsValid(sa) && semver.IsValid(sb) && semver.Compare(sa, sb) > 0
}

// autoToolchains returns, for the host's GOOS/GOARCH, the toolchains the
// projects ask for with a toolchain line (or a go line with a patch
// version) newer than the running go.
func autoToolchains(projects []string) []Toolchain {
	local := runtime.Version()
	seen := map[string]bool{}
	var out []Toolchain
	for _, dir := range projects {
		for _, f := range []string{"go.mod", "go.work"} {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				continue
			}
			var gover, tool string
			if f == "go.mod" {
				mf, err := modfile.Parse(f, data, nil)
				if err != nil {
					continue
				}
				if mf.Go != nil {
					gover = mf.Go.Version
				}
				if mf.Toolchain != nil {
					tool = mf.Toolchain.Name
				}
			} else {
				wf, err := modfile.ParseWork(f, data, nil)
				if err != nil {
					continue
				}
				if wf.Go != nil {
					gover = wf.Go.Version
				}
				if wf.Toolchain != nil {
					tool = wf.Toolchain.Name
				}
			}
			want := tool
			if want == "" && strings.Count(gover, ".") == 2 {
				want = "go" + gover
			}
			// A toolchain name may carry a suffix ("go1.27.3+custom"):
			// only plain releases are in the module proxy.
			if want == "" || strings.ContainsAny(want, "+-") || !goVersionNewer(want, local) || seen[want] {
				continue
			}
			seen[want] = true
			out = append(out, Toolchain{Go: want, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH})
		}
	}
	return out
}

// fetchToolchain downloads a toolchain module's .info, .mod and .zip from
// the first proxy that has it, into dir.
func fetchToolchain(ctx context.Context, client *http.Client, proxies []string, tc Toolchain, dir string) (map[resolve.Kind]resolve.File, error) {
	v := tc.Module()
	ev, _ := module.EscapeVersion(v.Version)
	var lastErr error
	for _, p := range proxies {
		files := map[resolve.Kind]resolve.File{}
		lastErr = nil
		for _, k := range []resolve.Kind{resolve.KindInfo, resolve.KindMod, resolve.KindZip} {
			url := p + "/" + toolchainPath + "/@v/" + ev + "." + string(k)
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
