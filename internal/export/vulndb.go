package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/resolve"
	"github.com/modferry/modferry/internal/vulndb"
)

// addVulnDB fetches the vulnerability database module from the upstream
// proxies, checks its zip against the checksum database (unless GOSUMDB
// is off or GONOSUMDB covers it), converts it, and adds it to the bundle
// as vulndb/ members.
func addVulnDB(ctx context.Context, cfg *sumdbConfig, opts Options, workDir string, m *bundle.Manifest, made *spool) error {
	src := opts.VulnDBModule
	if src.Path == "" {
		src.Path = vulndb.ModulePath
	}
	if opts.Progress != nil {
		opts.Progress(resolve.Event{Stage: "vulnerability database " + src.Path})
	}
	client := &http.Client{Timeout: 10 * time.Minute}
	var lastErr error
	for _, p := range cfg.upstream {
		db, v, zipFile, err := fetchVulnDB(ctx, client, p, src, workDir)
		if err != nil {
			lastErr = err
			continue
		}
		if err := checkVulnDBZip(ctx, cfg, v, zipFile); err != nil {
			return err
		}
		files, err := db.Files()
		if err != nil {
			return err
		}
		names := make([]string, 0, len(files))
		for name := range files {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			member := bundle.VulnDBPrefix + name
			bf, err := made.add(member, files[name])
			if err != nil {
				return err
			}
			m.Files = append(m.Files, bf)
		}
		m.VulnDB = &bundle.VulnDBInfo{Source: v.String(), Modified: db.Modified.UTC(), Entries: db.Len()}
		return nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no upstream proxy to fetch from")
	}
	return fmt.Errorf("vulnerability database %s: %w", src.Path, lastErr)
}

// fetchVulnDB downloads one version of the vulnerability database module
// from the proxy into dir and converts it; it returns the zip file too. An empty or "latest" version means the
// highest version the proxy lists, pseudo-versions included (the module
// has no tagged versions), else the proxy's @latest.
func fetchVulnDB(ctx context.Context, client *http.Client, proxy string, src module.Version, dir string) (*vulndb.DB, module.Version, string, error) {
	esc, err := module.EscapePath(src.Path)
	if err != nil {
		return nil, src, "", err
	}
	base := proxy + "/" + esc + "/@v/"
	v := src
	if v.Version == "" || v.Version == "latest" {
		list, err := get(ctx, client, base+"list")
		if err != nil {
			return nil, src, "", err
		}
		v.Version = ""
		for _, line := range strings.Fields(string(list)) {
			if semver.IsValid(line) && (v.Version == "" || semver.Compare(line, v.Version) > 0) {
				v.Version = line
			}
		}
		if v.Version == "" {
			data, err := get(ctx, client, proxy+"/"+esc+"/@latest")
			if err != nil {
				return nil, src, "", err
			}
			var info struct{ Version string }
			if err := json.Unmarshal(data, &info); err != nil {
				return nil, src, "", fmt.Errorf("%s/@latest: %w", src.Path, err)
			}
			v.Version = info.Version
		}
	}
	if err := module.Check(v.Path, v.Version); err != nil {
		return nil, v, "", err
	}
	infoName, err := modfiles.ProxyPath(v, modfiles.Info)
	if err != nil {
		return nil, v, "", err
	}
	zipName, _ := modfiles.ProxyPath(v, modfiles.Zip)
	data, err := get(ctx, client, proxy+"/"+infoName)
	if err != nil {
		return nil, v, "", err
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, v, "", fmt.Errorf("%s .info: %w", v, err)
	}
	// The database's time decides which copy a store keeps (a newer one
	// replaces an older, never the reverse). A .info is not covered by
	// the checksum database, so its time is not trusted: a
	// pseudo-version's own time (part of the version, which is) wins, and
	// a time in the future is refused — a proxy could otherwise date a
	// copy so late that no real database replaced it again.
	if t, err := module.PseudoVersionTime(v.Version); err == nil {
		info.Time = t
	}
	if info.Time.After(time.Now().Add(24 * time.Hour)) {
		return nil, v, "", fmt.Errorf("%s: the proxy dates it %s, in the future: refusing a time that would keep every later database out", v, info.Time.UTC().Format(time.RFC3339))
	}
	zipFile := filepath.Join(dir, "vulndb", path.Base(zipName))
	if _, err := download(ctx, client, proxy+"/"+zipName, zipFile); err != nil {
		return nil, v, "", err
	}
	db, err := vulndb.FromModuleZip(zipFile, v, info.Time)
	if err != nil {
		return nil, v, "", err
	}
	return db, v, zipFile, nil
}

// checkVulnDBZip checks the zip's h1: hash against the checksum database,
// as the go command would before using the module.
func checkVulnDBZip(ctx context.Context, cfg *sumdbConfig, v module.Version, zipFile string) error {
	if !cfg.covers(v.Path) {
		return nil
	}
	h, err := modfiles.HashZip(zipFile)
	if err != nil {
		return module.VersionError(v, err)
	}
	fetch, base, err := cfg.fetcher(ctx, &http.Client{Timeout: 2 * time.Minute})
	if err != nil {
		return err
	}
	_, err = checksumdb.Capture(ctx, checksumdb.CaptureOptions{Name: cfg.name, VerifierKey: cfg.key, Fetch: fetch,
		Modules: []checksumdb.ModuleHashes{{Version: v, ZipHash: h}}})
	if errors.Is(err, checksumdb.ErrSecurity) {
		return &SumDBDisagreesError{SumDB: cfg.name, URL: base, VulnDB: true, Err: err}
	}
	if err != nil {
		return fmt.Errorf("checking %s against the checksum database %s (%s): %w", v, cfg.name, base, err)
	}
	return nil
}
