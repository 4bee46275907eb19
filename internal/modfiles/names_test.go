package modfiles

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func TestNameRoundTrip(t *testing.T) {
	v := module.Version{Path: "modferry.test/Upper/v2", Version: "v2.0.0-RC.1"}
	for _, k := range []Kind{Info, Mod, Zip, ZipHash, Gone} {
		n, err := Name(v, k)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(n, "download/modferry.test/!upper/v2/@v/v2.0.0-!r!c.1.") {
			t.Errorf("Name = %q", n)
		}
		got, gk, err := ParseName(n)
		if err != nil || got != v || gk != k {
			t.Errorf("ParseName(%q) = %v, %v, %v", n, got, gk, err)
		}
	}
	for _, bad := range []string{"download/x", "other/a.test/m/@v/v1.0.0.zip", "download/a.test/m/@v/v1.0.0.exe", "download/a.test/M/@v/v1.0.0.zip", "download/a.test/m/@v/x/v1.0.0.zip"} {
		if _, _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) succeeded", bad)
		}
	}
}

func TestProxyPathAndName(t *testing.T) {
	v := module.Version{Path: "github.com/BurntSushi/toml", Version: "v1.4.0"}
	p, err := ProxyPath(v, Mod)
	if err != nil || p != "github.com/!burnt!sushi/toml/@v/v1.4.0.mod" {
		t.Errorf("ProxyPath = %q, %v", p, err)
	}
	n, err := Name(v, Mod)
	if err != nil || n != Root+"/"+p {
		t.Errorf("Name = %q, %v; want %q", n, err, Root+"/"+p)
	}
	if l, err := ListName(v.Path); err != nil || l != "download/github.com/!burnt!sushi/toml/@v/list" {
		t.Errorf("ListName = %q, %v", l, err)
	}
	if p, err := PendingName(v); err != nil || p != "pending/github.com/!burnt!sushi/toml/@v/v1.4.0" {
		t.Errorf("PendingName = %q, %v", p, err)
	}
	if _, err := Name(module.Version{Path: "a.test/m", Version: "v1.0.0\x00"}, Mod); err == nil {
		t.Error("Name of a version that cannot be escaped succeeded")
	}
}

func TestLookupPathRoundTrip(t *testing.T) {
	v := module.Version{Path: "modferry.test/Upper", Version: "v1.0.0-RC.1"}
	p, err := LookupPath(v)
	if err != nil || p != "lookup/modferry.test/!upper@v1.0.0-!r!c.1" {
		t.Fatalf("LookupPath = %q, %v", p, err)
	}
	got, err := ParseLookupPath(p)
	if err != nil || got != v {
		t.Errorf("ParseLookupPath = %v, %v; want %v", got, err, v)
	}
	for _, bad := range []string{"modferry.test/m@v1.0.0", "lookup/modferry.test/m", "lookup/modferry.test/M@v1.0.0", "lookup/modferry.test/m@1.0.0", "lookup/modferry.test/m@v1/x"} {
		if m, err := ParseLookupPath(bad); err == nil {
			t.Errorf("ParseLookupPath(%q) = %v, want error", bad, m)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		path, version string
		ok            bool
	}{
		{"modferry.test/m", "v1.0.0", true},
		{"modferry.test/m", "v2.0.0+incompatible", true},
		{"modferry.test/m/v2", "v2.0.0", true},
		{"modferry.test/m", "v1.0", false},   // not canonical
		{"modferry.test/m", "v2.0.0", false}, // wants /v2
		{"modferry.test/m/v3", "v3.0.0+incompatible", false},
		{"modferry.test/m", "master", false},
	} {
		err := Check(module.Version{Path: tt.path, Version: tt.version})
		if (err == nil) != tt.ok {
			t.Errorf("Check(%s@%s) = %v, want ok %v", tt.path, tt.version, err, tt.ok)
		}
	}
}

func TestCommitOrder(t *testing.T) {
	// .info is last: its presence makes a version complete.
	for _, hasZip := range []bool{true, false} {
		ks := CommitOrder(hasZip)
		if ks[len(ks)-1] != Info || ks[0] != Mod {
			t.Errorf("CommitOrder(%v) = %v, want .mod first and .info last", hasZip, ks)
		}
		if got := slices.Contains(ks, Zip) && slices.Contains(ks, ZipHash); got != hasZip {
			t.Errorf("CommitOrder(%v) = %v", hasZip, ks)
		}
	}
}

func TestListFile(t *testing.T) {
	if got := string(ListFile([]string{"v1.0.0", "v1.1.0"})); got != "v1.0.0\nv1.1.0\n" {
		t.Errorf("ListFile = %q", got)
	}
	if got := ListFile(nil); len(got) != 0 {
		t.Errorf("ListFile(nil) = %q, want empty", got)
	}
}

func TestParsePendingName(t *testing.T) {
	v := module.Version{Path: "modferry.test/Upper", Version: "v1.0.0"}
	n, err := PendingName(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParsePendingName(n); err != nil || got != v {
		t.Errorf("ParsePendingName(%q) = %v, %v; want %v", n, got, err, v)
	}
	for _, bad := range []string{"download/modferry.test/m/@v/v1.0.0", "pending/modferry.test/m", "pending/modferry.test/m/@v/sub/v1.0.0", "pending/modferry.test/M/@v/v1.0.0", "pending/modferry.test/m/@v/v2.0.0"} {
		if got, err := ParsePendingName(bad); err == nil {
			t.Errorf("ParsePendingName(%q) = %v, want error", bad, got)
		}
	}
}

func TestParseVersionPath(t *testing.T) {
	want := module.Version{Path: "modferry.test/Upper", Version: "v1.0.0"}
	if got, err := ParseVersionPath("modferry.test/!upper/@v/v1.0.0"); err != nil || got != want {
		t.Errorf("ParseVersionPath = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "modferry.test/m", "modferry.test/m/@v/", "modferry.test/m/@v/v1.0.0/x", "modferry.test/m/@v/master"} {
		if got, err := ParseVersionPath(bad); err == nil {
			t.Errorf("ParseVersionPath(%q) = %v, want error", bad, got)
		}
	}
}
