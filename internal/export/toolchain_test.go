package export

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestAutoToolchains(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.test/tc\n\ngo 1.21.0\n\ntoolchain go1.99.3\n"), 0o644)
	old := t.TempDir()
	os.WriteFile(filepath.Join(old, "go.mod"), []byte("module example.test/old\n\ngo 1.21.0\n\ntoolchain go1.21.3\n"), 0o644)
	got := autoToolchains([]string{dir, old})
	want := Toolchain{Go: "go1.99.3", GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("autoToolchains = %v, want [%v]", got, want)
	}
	if m := want.Module(); m.Path != "golang.org/toolchain" || m.Version != "v0.0.1-go1.99.3."+runtime.GOOS+"-"+runtime.GOARCH {
		t.Errorf("Module() = %v", m)
	}
	for _, bad := range []string{"go1.27.3", "1.27.3/linux-amd64", "go1.27.3/linux", "go1.27.3/-amd64"} {
		if _, err := ParseToolchain(bad); err == nil {
			t.Errorf("ParseToolchain(%q) succeeded", bad)
		}
	}
	if tc, err := ParseToolchain("go1.27.3/linux-amd64"); err != nil || tc.Module().Version != "v0.0.1-go1.27.3.linux-amd64" {
		t.Errorf("ParseToolchain = %v, %v", tc, err)
	}
}
