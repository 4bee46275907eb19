package testupstream

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/tools/txtar"

	"github.com/modferry/modferry/internal/memzip"
)

//go:embed testdata/mod/*.txt testdata/projects/*.txt
var testdata embed.FS

// defaultTime is the .info time of a fixture that names none.
var defaultTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// A built is one module version as a proxy serves it.
type built struct {
	mod   module.Version
	info  []byte // the .info file
	gomod []byte // the .mod file
	zip   []byte // the .zip file
}

// fixtures parses and builds every embedded module fixture once per process.
var fixtures = sync.OnceValues(func() ([]built, error) {
	names, err := fs.Glob(testdata, "testdata/mod/*.txt")
	if err != nil {
		return nil, err
	}
	var all []built
	seen := make(map[module.Version]string)
	for _, name := range names {
		data, err := testdata.ReadFile(name)
		if err != nil {
			return nil, err
		}
		b, err := buildFixture(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if prev, dup := seen[b.mod]; dup {
			return nil, fmt.Errorf("%s: %s is also defined by %s", name, b.mod, prev)
		}
		seen[b.mod] = name
		all = append(all, b)
	}
	sort.Slice(all, func(i, j int) bool { return lessVersion(all[i].mod, all[j].mod) })
	return all, nil
})

func lessVersion(a, b module.Version) bool {
	if a.Path != b.Path {
		return a.Path < b.Path
	}
	return semver.Compare(a.Version, b.Version) < 0
}

// buildFixture turns one txtar fixture into the files a proxy serves.
//
// The archive comment holds "module PATH", "version VERSION" and optionally
// "time RFC3339" lines; blank lines and lines starting with "#" are
// ignored. The file ".mod" is the go.mod to serve (default: the module's
// go.mod, or "module PATH" if it has none); ".info" is the .info to serve
// (default: {"Version","Time"}). Every other file goes into the module zip,
// except what golang.org/x/mod/zip leaves out (nested modules, vendor/...).
func buildFixture(data []byte) (built, error) {
	ar := txtar.Parse(data)
	var b built
	when := defaultTime
	haveTime := false
	sc := bufio.NewScanner(bytes.NewReader(ar.Comment))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		switch key {
		case "module":
			b.mod.Path = value
		case "version":
			b.mod.Version = value
		case "time":
			t, err := time.Parse(time.RFC3339, value)
			if err != nil {
				return built{}, fmt.Errorf("bad time line: %w", err)
			}
			when, haveTime = t.UTC(), true
		default:
			return built{}, fmt.Errorf("unknown comment line %q", line)
		}
	}
	if err := module.Check(b.mod.Path, b.mod.Version); err != nil {
		return built{}, err
	}
	if !haveTime && module.IsPseudoVersion(b.mod.Version) {
		t, err := module.PseudoVersionTime(b.mod.Version)
		if err != nil {
			return built{}, err
		}
		when = t
	}

	files := map[string][]byte{}
	var goModFile []byte
	for _, f := range ar.Files {
		switch f.Name {
		case ".mod":
			b.gomod = f.Data
		case ".info":
			b.info = f.Data
		default:
			if f.Name == "go.mod" {
				goModFile = f.Data
			}
			if _, dup := files[f.Name]; dup {
				return built{}, fmt.Errorf("file %s appears twice", f.Name)
			}
			files[f.Name] = f.Data
		}
	}
	switch {
	case b.gomod == nil && goModFile != nil:
		b.gomod = goModFile
	case b.gomod == nil:
		b.gomod = []byte("module " + modfile.AutoQuote(b.mod.Path) + "\n")
	case goModFile != nil && !bytes.Equal(b.gomod, goModFile):
		return built{}, fmt.Errorf(".mod differs from the go.mod in the module")
	}
	mf, err := modfile.ParseLax("go.mod", b.gomod, nil)
	if err != nil {
		return built{}, err
	}
	if mf.Module == nil || mf.Module.Mod.Path != b.mod.Path {
		return built{}, fmt.Errorf(".mod does not declare module %s", b.mod.Path)
	}

	if b.info == nil {
		b.info, err = json.Marshal(struct {
			Version string
			Time    time.Time
		}{b.mod.Version, when})
		if err != nil {
			return built{}, err
		}
		b.info = append(b.info, '\n')
	} else {
		var info struct{ Version string }
		if err := json.Unmarshal(b.info, &info); err != nil {
			return built{}, fmt.Errorf(".info: %w", err)
		}
		if info.Version != b.mod.Version {
			return built{}, fmt.Errorf(".info has version %q, want %q", info.Version, b.mod.Version)
		}
	}

	var zbuf bytes.Buffer
	if err := memzip.Create(&zbuf, b.mod, files); err != nil {
		return built{}, err
	}
	b.zip = zbuf.Bytes()
	return b, nil
}
