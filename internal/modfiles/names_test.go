package modfiles

import (
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
