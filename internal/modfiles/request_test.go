package modfiles

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		in      string
		op      Op
		path    string
		version string
		err     error
	}{
		{"modferry.test/!upper/!case/@v/list", OpList, "modferry.test/Upper/Case", "", nil},
		{"modferry.test/m/@latest", OpLatest, "modferry.test/m", "", nil},
		{"modferry.test/m/@v/v1.2.3.info", OpInfo, "modferry.test/m", "v1.2.3", nil},
		{"modferry.test/m/@v/v1.2.3.mod", OpMod, "modferry.test/m", "v1.2.3", nil},
		{"modferry.test/m/v2/@v/v2.0.0.zip", OpZip, "modferry.test/m/v2", "v2.0.0", nil},
		{"modferry.test/m/@v/v3.0.0+incompatible.mod", OpMod, "modferry.test/m", "v3.0.0+incompatible", nil},
		{"modferry.test/m/@v/v1.3.0-!r!c.1.info", OpInfo, "modferry.test/m", "v1.3.0-RC.1", nil},
		{"modferry.test/m/@v/v0.0.0-20240101000000-abcdefabcdef.zip", OpZip, "modferry.test/m", "v0.0.0-20240101000000-abcdefabcdef", nil},
		{"golang.org/toolchain/@v/v0.0.1-go1.27.3.linux-amd64.zip", OpZip, "golang.org/toolchain", "v0.0.1-go1.27.3.linux-amd64", nil},
		// Not found: valid syntax, versions no proxy holds.
		{"modferry.test/m/@v/master.info", 0, "", "", ErrNoSuchVersion},
		{"modferry.test/m/@v/v1.info", 0, "", "", ErrNoSuchVersion},
		{"modferry.test/m/@v/v1.2.info", 0, "", "", ErrNoSuchVersion},
		{"modferry.test/m/v2/@v/v1.0.0.mod", 0, "", "", ErrNoSuchVersion},
		{"modferry.test/m/@v/v2.0.0.mod", 0, "", "", ErrNoSuchVersion},
		{"modferry.test/m/v2/@v/v2.0.0+incompatible.mod", 0, "", "", ErrNoSuchVersion},
		{"modferry.test/m/@v/v1.0.0+build.zip", 0, "", "", ErrNoSuchVersion},
		// Bad requests.
		{"", 0, "", "", ErrBadPath},
		{"favicon.ico", 0, "", "", ErrBadPath},
		{"modferry.test/Upper/@v/list", 0, "", "", ErrBadPath},
		{"modferry.test/!!x/@v/list", 0, "", "", ErrBadPath},
		{"modferry.test/../etc/@v/list", 0, "", "", ErrBadPath},
		{"../../etc/passwd/@v/list", 0, "", "", ErrBadPath},
		{"/abs/@v/list", 0, "", "", ErrBadPath},
		{"modferry.test/m/@v/", 0, "", "", ErrBadPath},
		{"modferry.test/m/@v/.info", 0, "", "", ErrBadPath},
		{"modferry.test/m/@v/v1.0.0.tar", 0, "", "", ErrBadPath},
		{"modferry.test/m/@v/v1.0.0/../x.zip", 0, "", "", ErrBadPath},
		{"modferry.test/m/@v/v1.0.0!.zip", 0, "", "", ErrBadPath},
		{"nodot/@v/list", 0, "", "", ErrBadPath},
		{"modferry.test/m/@v/" + strings.Repeat("v", 2000) + ".zip", 0, "", "", ErrBadPath},
	}
	for _, tt := range tests {
		r, err := ParseRequest(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseRequest(%q) = %+v, %v; want error %v", tt.in, r, err, tt.err)
			}
			continue
		}
		if err != nil || r.Op != tt.op || r.Path != tt.path || r.Version.Version != tt.version {
			t.Errorf("ParseRequest(%q) = %+v, %v; want op %v %s@%s", tt.in, r, err, tt.op, tt.path, tt.version)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"modferry.test/!upper/@v/list", "a.b/c/@latest", "a.b/c/@v/v1.0.0.zip",
		"golang.org/toolchain/@v/v0.0.1-go1.27.3.linux-amd64.zip", "a.b/c/@v/v1.0.0+incompatible.mod",
		"../@v/x", "a.b/%21x/@v/list", "a.b/c/@v/v0.0.0-20240101000000-abcdefabcdef.info",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		checkUpstreamRequest(t, p)
		r, err := ParseRequest(p)
		if err != nil {
			if !errors.Is(err, ErrBadPath) && !errors.Is(err, ErrNoSuchVersion) {
				t.Fatalf("ParseRequest(%q): untyped error %v", p, err)
			}
			return
		}
		if r.Op < OpList || r.Op > OpLatest {
			t.Fatalf("ParseRequest(%q): op %d", p, r.Op)
		}
		if strings.HasPrefix(r.Path, "/") || strings.Contains(r.Path, "\\") {
			t.Fatalf("ParseRequest(%q): unsafe path %q", p, r.Path)
		}
		for _, elem := range strings.Split(r.Path, "/") {
			if elem == "." || elem == ".." || elem == "" {
				t.Fatalf("ParseRequest(%q): unsafe path %q", p, r.Path)
			}
		}
		if (r.Op == OpInfo || r.Op == OpMod || r.Op == OpZip) && (r.Version.Version == "" || strings.ContainsAny(r.Version.Version, "/\\")) {
			t.Fatalf("ParseRequest(%q): bad version %q", p, r.Version.Version)
		}
	})
}

func TestParseUpstreamRequest(t *testing.T) {
	tests := []struct {
		in      string
		op      Op
		version string
		err     error
	}{
		// What ParseRequest accepts.
		{"modferry.test/m/@v/list", OpList, "", nil},
		{"modferry.test/m/@v/v1.2.3.zip", OpZip, "v1.2.3", nil},
		// Non-canonical versions module.Check accepts: queries the
		// upstream resolves.
		{"modferry.test/m/@v/v1.2.info", OpInfo, "v1.2", nil},
		// Any version for a go.mod.
		{"modferry.test/m/v2/@v/v1.0.0.mod", OpMod, "v1.0.0", nil},
		{"modferry.test/m/@v/master.mod", OpMod, "master", nil},
		// Versions module.Check rejects, for other files.
		{"modferry.test/m/@v/master.info", 0, "", ErrNoSuchVersion},
		{"modferry.test/m/v2/@v/v1.0.0.zip", 0, "", ErrNoSuchVersion},
		// Malformed paths stay malformed.
		{"modferry.test/Upper/@v/v1.0.0.mod", 0, "", ErrBadPath},
		{"modferry.test/m/@v/v1.0.0.ziphash", 0, "", ErrBadPath},
		{"modferry.test/m/@v/.mod", 0, "", ErrBadPath},
	}
	for _, tt := range tests {
		r, err := ParseUpstreamRequest(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseUpstreamRequest(%q) = %+v, %v; want error %v", tt.in, r, err, tt.err)
			}
			continue
		}
		if err != nil || r.Op != tt.op || r.Version.Version != tt.version {
			t.Errorf("ParseUpstreamRequest(%q) = %+v, %v; want op %v version %q", tt.in, r, err, tt.op, tt.version)
		}
	}
}

func TestOpKind(t *testing.T) {
	for op, want := range map[Op]Kind{OpList: "", OpLatest: "", OpInfo: Info, OpMod: Mod, OpZip: Zip} {
		if got := op.Kind(); got != want {
			t.Errorf("%v.Kind() = %q, want %q", op, got, want)
		}
	}
}

// checkUpstreamRequest checks ParseUpstreamRequest against ParseRequest on
// p: it accepts at least as much, gives the same answer where both accept,
// and names files that parse back to the same request.
func checkUpstreamRequest(t *testing.T, p string) {
	r, err := ParseRequest(p)
	u, uerr := ParseUpstreamRequest(p)
	if err == nil && (uerr != nil || u != r) {
		t.Fatalf("ParseUpstreamRequest(%q) = %+v, %v; ParseRequest gives %+v", p, u, uerr, r)
	}
	if uerr != nil {
		if !errors.Is(uerr, ErrBadPath) && !errors.Is(uerr, ErrNoSuchVersion) {
			t.Fatalf("ParseUpstreamRequest(%q): untyped error %v", p, uerr)
		}
		return
	}
	if k := u.Op.Kind(); k != "" {
		name, err := ProxyPath(u.Version, k)
		if err != nil {
			t.Fatalf("ParseUpstreamRequest(%q) = %+v, which ProxyPath cannot name: %v", p, u, err)
		}
		if back, err := ParseUpstreamRequest(name); err != nil || back != u {
			t.Fatalf("ParseUpstreamRequest(%q) = %+v, %v; want %+v (from %q)", name, back, err, u, p)
		}
	}
}
