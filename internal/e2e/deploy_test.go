package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/modferry/modferry/internal/testupstream"
)

// The deployment files (Dockerfile, deploy/, docs/ci/) are tested here:
// every modferry command line in them must name a real command and real
// flags, the systemd unit must pass systemd-analyze, nginx's configuration
// must carry a go client over TLS, and the image must build and serve.

// repoFile returns the path of a file in the repository.
func repoFile(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func readRepoFile(t *testing.T, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// needTool fails (never skips) when a tool the test needs is missing:
// scripts/test.sh installs them.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed (scripts/test.sh installs it)", n)
		}
	}
}

// commandLine matches a modferry command line: the verb and what follows
// it up to the end of the line or a shell operator.
var commandLine = regexp.MustCompile(`(?:^|[\s"'(/])modferry ([a-z]+)((?: [^|;&\n)]*)?)`)

var flagName = regexp.MustCompile(`^(--[a-z][a-z0-9-]*)`)

// modferryHelp returns the --help text of a modferry command.
func modferryHelp(t *testing.T, path ...string) string {
	t.Helper()
	out, err := exec.Command(modferryBin, append(slices.Clone(path), "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("modferry %s --help: %v\n%s", strings.Join(path, " "), err, out)
	}
	return string(out)
}

// subcommands lists the commands a --help text offers.
func subcommands(help string) []string {
	_, list, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		return nil
	}
	var names []string
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		names = append(names, f[0])
	}
	return names
}

// checkCommand fails the test unless words (a verb, maybe a subcommand,
// then arguments) name a modferry command that knows every flag used.
func checkCommand(t *testing.T, where string, words []string) {
	t.Helper()
	if !slices.Contains(subcommands(modferryHelp(t)), words[0]) {
		t.Errorf("%s: modferry %s: no such command", where, words[0])
		return
	}
	path := words[:1]
	help := modferryHelp(t, path...)
	if subs := subcommands(help); len(subs) > 0 {
		if len(words) < 2 || !slices.Contains(subs, words[1]) {
			t.Errorf("%s: modferry %s needs one of the subcommands %v", where, strings.Join(words, " "), subs)
			return
		}
		path = words[:2]
		help = modferryHelp(t, path...)
	}
	for _, w := range words[len(path):] {
		if m := flagName.FindStringSubmatch(w); m != nil {
			if !strings.Contains(help, "  "+m[1]+" ") && !strings.Contains(help, ", "+m[1]+" ") {
				t.Errorf("%s: modferry %s has no flag %s", where, strings.Join(path, " "), m[1])
			}
		}
	}
}

// TestDeployCommandLines checks every modferry command line in the
// deployment files and CI recipes (comments aside) against the binary's
// own --help, so that they cannot drift from the command-line contract.
func TestDeployCommandLines(t *testing.T) {
	files := []string{"Dockerfile", "deploy/modferry.service", "deploy/compose.yaml"}
	recipes, err := filepath.Glob(repoFile("docs", "ci", "*", "*.yml"))
	if err != nil || len(recipes) < 4 {
		t.Fatalf("want the GitHub and GitLab recipes under docs/ci, found %v (%v)", recipes, err)
	}
	for _, r := range recipes {
		rel, _ := filepath.Rel(repoFile(), r)
		files = append(files, rel)
	}
	checked := 0
	for _, f := range files {
		for i, line := range strings.Split(readRepoFile(t, f), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range commandLine.FindAllStringSubmatch(line, -1) {
				checkCommand(t, fmt.Sprintf("%s:%d", f, i+1), append([]string{m[1]}, strings.Fields(m[2])...))
				checked++
			}
		}
	}
	// The Dockerfile's CMD and HEALTHCHECK are exec-form JSON arrays.
	for _, m := range regexp.MustCompile(`CMD (\[.*\])`).FindAllStringSubmatch(readRepoFile(t, "Dockerfile"), -1) {
		var argv []string
		if err := json.Unmarshal([]byte(m[1]), &argv); err != nil {
			t.Fatalf("Dockerfile CMD %s: %v", m[1], err)
		}
		if argv[0] == "/modferry" {
			argv = argv[1:]
		}
		checkCommand(t, "Dockerfile "+m[0], argv)
		checked++
	}
	if checked < 14 {
		t.Fatalf("checked only %d modferry command lines; the pattern no longer finds them", checked)
	}
	t.Logf("checked %d modferry command lines", checked)
}

// TestGitLabRecipes checks the structure GitLab CI needs: every job in a
// declared stage, with a script of strings.
func TestGitLabRecipes(t *testing.T) {
	files, _ := filepath.Glob(repoFile("docs", "ci", "gitlab", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no GitLab recipes under docs/ci/gitlab")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var stages []string
		for _, s := range doc["stages"].([]any) {
			stages = append(stages, s.(string))
		}
		jobs := 0
		for name, v := range doc {
			job, ok := v.(map[string]any)
			if !ok || name == "variables" || name == "default" || strings.HasPrefix(name, ".") {
				continue
			}
			jobs++
			if st, _ := job["stage"].(string); !slices.Contains(stages, st) {
				t.Errorf("%s: job %s has stage %q, not one of %v", f, name, st, stages)
			}
			script, ok := job["script"].([]any)
			if !ok || len(script) == 0 {
				t.Errorf("%s: job %s has no script list", f, name)
			}
			for _, line := range script {
				if _, ok := line.(string); !ok {
					t.Errorf("%s: job %s: script line %v is not a string", f, name, line)
				}
			}
		}
		if jobs == 0 {
			t.Errorf("%s: no jobs", f)
		}
	}
}

// TestComposeFile checks that compose.yaml runs the image's server on the
// /data volume behind nginx with the configuration tested below.
func TestComposeFile(t *testing.T) {
	var doc struct {
		Services map[string]struct {
			Build   map[string]string `yaml:"build"`
			Image   string            `yaml:"image"`
			Command []string          `yaml:"command"`
			Volumes []string          `yaml:"volumes"`
			Ports   []string          `yaml:"ports"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "deploy", "compose.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	mf, ng := doc.Services["modferry"], doc.Services["nginx"]
	if mf.Build["dockerfile"] != "Dockerfile" || !slices.Contains(mf.Volumes, "modferry-data:/data") {
		t.Errorf("modferry service: build %v, volumes %v", mf.Build, mf.Volumes)
	}
	if _, ok := doc.Volumes["modferry-data"]; !ok {
		t.Error("volume modferry-data is not declared")
	}
	checkCommand(t, "compose.yaml", mf.Command)
	if !slices.Contains(ng.Volumes, "./nginx.conf:/etc/nginx/nginx.conf:ro") || len(ng.Ports) == 0 {
		t.Errorf("nginx service: volumes %v, ports %v", ng.Volumes, ng.Ports)
	}
}

// TestSystemdUnit runs systemd-analyze verify on the unit (with ExecStart
// pointed at the test's binary, since verify checks that it exists) and
// checks the hardening the unit promises.
func TestSystemdUnit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd is Linux-only")
	}
	needTool(t, "systemd-analyze")
	unit := readRepoFile(t, "deploy", "modferry.service")
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/modferry", "NoNewPrivileges=yes", "StateDirectory=modferry"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("the unit lacks %s", want)
		}
	}
	file := filepath.Join(t.TempDir(), "modferry.service")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(unit, "/usr/local/bin/modferry", modferryBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", file).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", file).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security (exposure must stay at or below 2.0): %v\n%s", err, out)
	}
	t.Logf("%s", lastLine(string(out)))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestNginxTLS runs the real nginx with deploy/nginx.conf (its upstream,
// port and certificate paths pointed at the test's) in front of modferry,
// and has the go command download a project's modules through it over
// HTTPS.
func TestNginxTLS(t *testing.T) {
	slow(t)
	needTool(t, "nginx")
	up := testupstream.New(t)
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	backend := serve(t, store, "--trusted-proxy", "127.0.0.1")

	ca := newTestCA(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	conf := readRepoFile(t, "deploy", "nginx.conf")
	for old, new := range map[string]string{
		"server modferry:3000;":       "server " + strings.TrimPrefix(backend, "http://") + ";",
		"listen 443 ssl http2;":       "listen " + addr + " ssl http2;",
		"/etc/nginx/tls/server.crt":   ca.CertFile,
		"/etc/nginx/tls/server.key":   ca.KeyFile,
		"worker_processes auto;":      fmt.Sprintf("worker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;", dir, dir),
		"http {":                      fmt.Sprintf("http {\n    client_body_temp_path %[1]s/cb;\n    proxy_temp_path %[1]s/px;\n    fastcgi_temp_path %[1]s/fc;\n    uwsgi_temp_path %[1]s/uw;\n    scgi_temp_path %[1]s/sc;", dir),
		"events { worker_connections": "events { worker_connections",
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("deploy/nginx.conf no longer has %q", old)
		}
		conf = strings.ReplaceAll(conf, old, new)
	}
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nginx", "-t", "-c", confFile, "-p", dir).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command("nginx", "-c", confFile, "-p", dir, "-g", "daemon off;")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	url := "https://" + addr
	client := ca.client()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := client.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx at %s never answered /healthz: %v\n%s", url, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	env := append(testupstream.GoEnv(t, url), "SSL_CERT_FILE="+ca.CAFile)
	for _, args := range [][]string{{"mod", "download", "all"}, {"build", "./..."}} {
		c := exec.Command("go", args...)
		c.Dir, c.Env = app, env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("go %s through nginx: %v\n%s\nnginx: %s", strings.Join(args, " "), err, out, logs.String())
		}
	}
}

// podman runs podman with a configuration of the test's own: images in a
// temporary vfs store, the runc runtime, and open-file and process limits
// within this machine's hard limits (podman's defaults exceed them).
type podman struct {
	t   *testing.T
	env []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	needTool(t, "podman", "runc")
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	storage := filepath.Join(dir, "storage.conf")
	write := func(file, text string) {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(conf, `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`)
	write(storage, fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(dir, "graph"), filepath.Join(dir, "run")))
	p := &podman{t: t, env: append(os.Environ(), "CONTAINERS_CONF="+conf, "CONTAINERS_STORAGE_CONF="+storage)}
	t.Cleanup(func() {
		// vfs layers are plain directories; the store is removed with the temp dir.
		p.run("system", "reset", "--force")
	})
	return p
}

func (p *podman) run(args ...string) (string, error) {
	cmd := exec.Command("podman", args...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestContainerImage builds the Dockerfile with podman, checks the image's
// configuration, runs it with its own command and health check on a store
// volume, and fetches a module through it. The build stage's image is made
// here from this machine's Go (mounted read-only) and module cache, with no
// network, since no image registry is reachable.
func TestContainerImage(t *testing.T) {
	slow(t)
	p := newPodman(t)
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	builder := t.TempDir()
	for _, d := range []string{"root", "tmp"} {
		if err := os.Mkdir(filepath.Join(builder, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(builder, "Containerfile"), []byte(`FROM scratch
ENV PATH=/usr/local/go/bin HOME=/root GOTOOLCHAIN=local GOPROXY=off GOMODCACHE=/gomodcache GOCACHE=/gocache
COPY root /root
COPY tmp /tmp
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p.must("build", "--network", "none", "-t", "localhost/modferry-test-go", builder)
	// The build stage reads modules from this machine's module cache with
	// GOPROXY=off: fill it with what 'go mod download' will ask for.
	dl := exec.Command("go", "mod", "download")
	dl.Dir = repoFile()
	if out, err := dl.CombinedOutput(); err != nil {
		t.Fatalf("go mod download (filling the module cache the build stage reads): %v\n%s", err, out)
	}
	start := time.Now()
	p.must("build", "--format", "docker", "--network", "none",
		"--volume", goEnv("GOROOT")+":/usr/local/go:ro",
		"--volume", goEnv("GOMODCACHE")+":/gomodcache",
		"--volume", goEnv("GOCACHE")+":/gocache",
		"--build-arg", "GO_IMAGE=localhost/modferry-test-go",
		"-t", "localhost/modferry-test", "-f", repoFile("Dockerfile"), repoFile())
	t.Logf("image built in %v", time.Since(start).Round(time.Second))

	var inspect []struct {
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			Volumes      map[string]any
			ExposedPorts map[string]any
		}
		Healthcheck struct{ Test []string } // podman keeps it beside Config
		RootFS      struct{ Layers []string }
		Size        int64
	}
	if err := json.Unmarshal([]byte(p.must("image", "inspect", "localhost/modferry-test")), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	cfg := inspect[0].Config
	if cfg.User != "65532:65532" {
		t.Errorf("image user %q, want the non-root 65532:65532", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/modferry"}) || len(cfg.Cmd) == 0 || cfg.Cmd[0] != "serve" {
		t.Errorf("entrypoint %q cmd %q", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.Volumes["/data"]; !ok {
		t.Errorf("/data is not a volume: %v", cfg.Volumes)
	}
	if hc := inspect[0].Healthcheck.Test; len(hc) < 3 || hc[0] != "CMD" || hc[1] != "/modferry" {
		t.Errorf("health check %q", hc)
	}
	// FROM scratch: the binary and two empty directories, nothing else.
	if n := len(inspect[0].RootFS.Layers); n != 3 {
		t.Errorf("image has %d layers, want 3 (binary, /data, /tmp)", n)
	}
	t.Logf("image size %.1f MB", float64(inspect[0].Size)/1e6)

	up := testupstream.New(t)
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	if out, err := exec.Command("chown", "-R", "65532:65532", store).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	p.must("run", "-d", "--name", "modferry-test", "-p", addr+":3000", "-v", store+":/data", "localhost/modferry-test")
	t.Cleanup(func() {
		t.Logf("container log:\n%s", p.must("logs", "modferry-test"))
		p.run("rm", "-f", "-t", "5", "modferry-test")
	})
	url := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container never answered /healthz: %v\n%s", err, p.must("logs", "modferry-test"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := p.run("healthcheck", "run", "modferry-test"); err != nil {
		t.Errorf("the image's HEALTHCHECK failed: %v\n%s", err, out)
	}
	if out := p.must("top", "modferry-test", "huser"); !strings.Contains(out, "65532") {
		t.Errorf("the server does not run as uid 65532:\n%s", out)
	}

	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	c := exec.Command("go", "mod", "download", "all")
	c.Dir, c.Env = app, testupstream.GoEnv(t, url)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go mod download through the container: %v\n%s", err, out)
	}
}
