package e2e

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/testupstream"
)

// TestEnv: the environment `modferry env` prints lets the real go command
// build with checksum verification on, keeps the user's GOFLAGS, and env
// refuses, printing nothing, whatever would silently turn checksum
// verification off: an unreachable server, something that is not
// modferry, a server without a checksum database (unless
// --allow-no-sumdb, which then warns).
func TestEnv(t *testing.T) {
	b, pub, _, db := sumdbBundle(t)
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	url := serve(t, store)

	// The client names the database by name+key only: it can reach it
	// only through the server.
	client := append(testupstream.GoEnv(t, "off"), "GOSUMDB="+db.Key, "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS=-trimpath -mod=readonly", sharedGoCache(t))
	out, stderr, code := mfRun(t, client, "env", "--server", url)
	if code != 0 {
		t.Fatalf("env: exit code %d", code)
	}
	if strings.Contains(out, "GONOSUMDB") {
		t.Errorf("env turned checksum checks off for a server that has them:\n%s", out)
	}
	if !strings.Contains(out, "export GOFLAGS='-trimpath -mod=mod'") {
		t.Errorf("env did not keep GOFLAGS and add -mod=mod:\n%s", out)
	}
	if !strings.Contains(stderr, "-mod=readonly") {
		t.Errorf("env replaced -mod=readonly without saying so: %q", stderr)
	}

	// The go command, in that environment, fetches, builds and verifies
	// a project with no go.sum, checking every module against the
	// checksum database through the server.
	dir := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", dir)
	sh := exec.Command("sh", "-c", `eval "$MF_ENV" && test "$GOPROXY" = "$MF_URL" && go mod download all && go build ./... && go mod verify && grep -c h1: go.sum`)
	sh.Dir = dir
	sh.Env = append(client, "MF_ENV="+out, "MF_URL="+url)
	if o, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("go command in the printed environment: %v\n%s", err, o)
	}

	// With a token over http: the go command would send it nowhere
	// (credentials only over https), so env says so.
	_, stderr, code = mfRun(t, append(client, "MODFERRY_TOKEN=mf_x"), "env", "--server", url)
	if code != 0 || !strings.Contains(stderr, "sends credentials only over https") {
		t.Errorf("env with a token over http: exit %d, stderr %q; want a warning", code, stderr)
	}

	// A server that holds no checksum database.
	empty := serve(t, filepath.Join(t.TempDir(), "empty"))
	out, stderr, code = mfRun(t, client, "env", "--server", empty)
	if code != 1 || out != "" || !strings.Contains(stderr, "no checksum database") || !strings.Contains(stderr, "--allow-no-sumdb") {
		t.Errorf("env on a server without a checksum database: exit %d, stdout %q, stderr %q; want exit 1, nothing printed, a hint at --allow-no-sumdb", code, out, stderr)
	}
	out, stderr, code = mfRun(t, client, "env", "--server", empty, "--allow-no-sumdb")
	if code != 0 || !strings.Contains(out, "export GONOSUMDB='*'") || !strings.Contains(stderr, "warning") || !strings.Contains(stderr, "trusted") {
		t.Errorf("env --allow-no-sumdb: exit %d, stdout %q, stderr %q; want GONOSUMDB='*' and a warning", code, out, stderr)
	}

	// Nothing listening; something that is not modferry (a plain
	// GOPROXY, a web server answering 200 to everything).
	anything := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) }))
	defer anything.Close()
	up := testupstream.New(t)
	for _, bad := range []struct{ url, want string }{
		{"http://" + freeAddr(t), "cannot reach"},
		{anything.URL, "not a modferry server"},
		{up.URL, "not a modferry server"},
	} {
		for _, allow := range []bool{false, true} {
			args := []string{"env", "--server", bad.url}
			if allow {
				args = append(args, "--allow-no-sumdb")
			}
			out, stderr, code := mfRun(t, client, args...)
			if code != 1 || out != "" || !strings.Contains(stderr, bad.want) {
				t.Errorf("env %s: exit %d, stdout %q, stderr %q; want exit 1, nothing printed, %q", strings.Join(args[1:], " "), code, out, stderr, bad.want)
			}
		}
	}
}
