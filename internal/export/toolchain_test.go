package export

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/resolve"
)

func TestParseToolchain(t *testing.T) {
	for _, bad := range []string{"go1.27.3", "1.27.3/linux-amd64", "go1.27.3/linux", "go1.27.3/-amd64"} {
		if _, err := ParseToolchain(bad); err == nil {
			t.Errorf("ParseToolchain(%q) succeeded", bad)
		}
	}
	tc, err := ParseToolchain("go1.27.3/linux-amd64")
	if err != nil || tc.Module() != resolve.ToolchainVersion("go1.27.3", "linux", "amd64") {
		t.Errorf("ParseToolchain = %v, %v", tc.Module(), err)
	}
}

// TestAddToolchains: the toolchains resolution recorded are carried (or
// dropped with NoAutoToolchains); --toolchain ones are fetched unless
// resolution has them already.
func TestAddToolchains(t *testing.T) {
	var fetched []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched = append(fetched, r.URL.Path)
		fmt.Fprint(w, "content of "+r.URL.Path)
	}))
	defer up.Close()
	recorded := func() *resolve.Result {
		res := &resolve.Result{}
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			res.Files = append(res.Files,
				resolve.File{Module: resolve.ToolchainVersion("go1.27.0", "linux", "amd64"), Kind: k},
				resolve.File{Module: resolve.ToolchainVersion("go1.27.3", "linux", "amd64"), Kind: k})
		}
		return res
	}
	mac, _ := ParseToolchain("go1.27.3/darwin-arm64")
	linux, _ := ParseToolchain("go1.27.3/linux-amd64")
	for _, c := range []struct {
		name  string
		opts  Options
		want  string
		fetch int
	}{
		{"recorded", Options{}, "[go1.27.0.linux-amd64 go1.27.3.linux-amd64]", 0},
		{"none", Options{NoAutoToolchains: true}, "[]", 0},
		{"none but asked", Options{NoAutoToolchains: true, Toolchains: []Toolchain{linux}}, "[go1.27.3.linux-amd64]", 0},
		{"another platform", Options{Toolchains: []Toolchain{mac, linux}}, "[go1.27.0.linux-amd64 go1.27.3.darwin-arm64 go1.27.3.linux-amd64]", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			fetched = nil
			res := recorded()
			names, err := addToolchains(context.Background(), c.opts, res, []string{up.URL}, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(names); got != c.want && !(c.want == "[]" && len(names) == 0) {
				t.Errorf("toolchains %s, want %s", got, c.want)
			}
			if len(fetched) != c.fetch {
				t.Errorf("fetched %v, want %d files", fetched, c.fetch)
			}
			zips := 0
			for _, f := range res.Files {
				if f.Kind == modfiles.Zip {
					zips++
				}
			}
			if want := strings.Count(c.want, " ") + 1; c.want != "[]" && zips != want || c.want == "[]" && zips != 0 {
				t.Errorf("%d zips in the result, want %s", zips, c.want)
			}
		})
	}
}
