package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestServeMatchesUpstream fills a store from the fixture upstream's
// download tree (with import --cache-dir, the migration path), serves it,
// and checks that the real go command gets the same answers from modferry
// as from the upstream.
func TestServeMatchesUpstream(t *testing.T) {
	up := testupstream.New(t)
	store := filepath.Join(t.TempDir(), "store")
	out := mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	if !strings.Contains(out, "0 skipped") {
		t.Fatalf("import --cache-dir skipped fixtures:\n%s", out)
	}
	url := serve(t, store)

	type step struct {
		args []string
		// files whose content after the step must match too
		files []string
	}
	steps := []step{
		{args: []string{"mod", "download", "all"}, files: []string{"go.mod", "go.sum"}},
		{args: []string{"build", "./..."}},
		{args: []string{"test", "./..."}},
		{args: []string{"list", "-m", "all"}},
		{args: []string{"list", "-m", "-versions", "modferry.test/lib", "modferry.test/retract", "modferry.test/major/v2", "modferry.test/pseudo", "modferry.test/Upper/Case"}},
		{args: []string{"list", "-m", "-retracted", "-versions", "modferry.test/retract"}},
		{args: []string{"mod", "verify"}},
		{args: []string{"get", "modferry.test/lib@v1"}, files: []string{"go.mod", "go.sum"}},
		{args: []string{"get", "modferry.test/lib@latest"}, files: []string{"go.mod", "go.sum"}},
		{args: []string{"get", "modferry.test/retract@latest"}, files: []string{"go.mod", "go.sum"}},
		{args: []string{"get", "modferry.test/pseudo@latest"}, files: []string{"go.mod", "go.sum"}},
		{args: []string{"list", "-m", "-u", "all"}},
		{args: []string{"mod", "tidy"}, files: []string{"go.mod", "go.sum"}},
		{args: []string{"build", "./..."}},
		{args: []string{"mod", "verify"}},
	}
	type client struct {
		name, dir string
		env       []string
	}
	clients := []client{
		{name: "upstream", env: testupstream.GoEnv(t, up.URL)},
		{name: "modferry", env: testupstream.GoEnv(t, url)},
	}
	for i := range clients {
		clients[i].dir = filepath.Join(t.TempDir(), "app")
		testupstream.WriteProject(t, "app", clients[i].dir)
	}
	normalize := strings.NewReplacer(up.URL, "PROXY", url, "PROXY")
	for _, s := range steps {
		var outs, files [2]string
		for i, c := range clients {
			out, err := testupstream.RunGo(t, c.dir, c.env, s.args...)
			if err != nil {
				t.Fatalf("%s: go %s: %v", c.name, strings.Join(s.args, " "), err)
			}
			outs[i] = normalize.Replace(stripPaths(out, c.dir))
			for _, f := range s.files {
				b, err := os.ReadFile(filepath.Join(c.dir, f))
				if err != nil {
					t.Fatal(err)
				}
				files[i] += "== " + f + "\n" + string(b)
			}
		}
		if outs[0] != outs[1] {
			t.Errorf("go %s: output differs\nupstream:\n%s\nmodferry:\n%s", strings.Join(s.args, " "), outs[0], outs[1])
		}
		if files[0] != files[1] {
			t.Errorf("go %s: files differ\nupstream:\n%s\nmodferry:\n%s", strings.Join(s.args, " "), files[0], files[1])
		}
	}
}

var (
	tmpPath  = regexp.MustCompile(`/tmp/\S*`)
	testTime = regexp.MustCompile(`\t(\d+\.\d+s|\(cached\))`)
)

// stripPaths removes what legitimately differs between two runs: temp
// directories and test timings.
func stripPaths(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "PROJECT")
	s = testTime.ReplaceAllString(s, "\tTIME")
	return tmpPath.ReplaceAllString(s, "TMP")
}

// TestServeOffline runs the server and a go client inside a network
// namespace with nothing but loopback: offline really means offline.
func TestServeOffline(t *testing.T) {
	up := testupstream.New(t)
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	dir := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", dir)
	env := testupstream.GoEnv(t, "http://127.0.0.1:3999")
	script := `set -e
ip link set lo up
"$MODFERRY" serve --store "$STORE" --addr 127.0.0.1:3999 & pid=$!
trap 'kill $pid; wait $pid' EXIT
for i in $(seq 100); do wget -q -O /dev/null http://127.0.0.1:3999/healthz 2>/dev/null || curl -sf -o /dev/null http://127.0.0.1:3999/healthz && break; sleep 0.1; done
go mod download all
go build ./...
go test ./...
go mod verify
`
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed to prove offline use: %v", err)
	}
	cmd := exec.Command("unshare", "-n", "sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(env, "MODFERRY="+modferryBin, "STORE="+store)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("offline build in a loopback-only namespace failed: %v", err)
	}
}
