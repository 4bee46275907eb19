package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/store/s3store/miniotest"
	"github.com/modferry/modferry/internal/testupstream"
)

// TestReplicasOnMinIO runs three `modferry serve` replicas on one store in
// a real MinIO (erasure-coded over four drives) behind nginx, as a
// deployment of several replicas on shared storage would:
//
//   - a bundle uploaded through one replica (import --server) is served by
//     all three at once, byte for byte as the bundle lists it;
//   - a go client with GOSUMDB on (name and key only, so every proof comes
//     through modferry) builds through nginx;
//   - one replica is killed with SIGKILL while six go clients with fresh
//     module caches build in parallel: not one fails (nginx retries the
//     requests the dead replica refuses on the other two);
//   - one MinIO drive directory is removed while six more build: they all
//     succeed (the erasure code rebuilds what the drive held);
//   - a version deleted with `modferry delete --store s3://…` answers 410
//     on all three replicas within about a second, although each had
//     served it from its caches (two keep zip copies, --zip-cache-dir).
func TestReplicasOnMinIO(t *testing.T) {
	slow(t)
	needTool(t, "nginx")
	mio := miniotest.Start(t)
	s3env := minioEnv(mio)
	store := "s3://" + miniotest.Bucket + "/replicas"

	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app) // no go.sum: every module is looked up
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	mfEnv(t, []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, app)
	m := readManifest(t, b)
	writer := tokenAdd(t, s3env, store, "uploader", "read,write")

	var reps []*replica
	for i := range 3 {
		args := []string{"--store", store, "--pubkey", pub, "--allow-anonymous-read", "--trusted-proxy", "127.0.0.1"}
		if i < 2 {
			args = append(args, "--zip-cache-dir", t.TempDir())
		}
		reps = append(reps, startReplica(t, s3env, args...))
	}
	ng := startNginxUpstream(t, reps)

	// Upload through the first replica; all three serve it at once.
	if out := mfEnv(t, nil, "import", "--server", reps[0].url, "--token", writer, b); !strings.Contains(out, "module versions added") {
		t.Fatalf("import --server: %s", out)
	}
	var files []string
	want := map[string]string{}
	for _, f := range m.Files {
		switch {
		case strings.HasPrefix(f.Path, "download/"):
			p := "/" + strings.TrimPrefix(f.Path, "download/")
			files, want[p] = append(files, p), f.SHA256
		case strings.HasPrefix(f.Path, "sumdb/") && strings.Contains(f.Path, "/lookup/"):
			files, want["/"+f.Path] = append(files, "/"+f.Path), f.SHA256
		}
	}
	if len(files) < 10 {
		t.Fatalf("the bundle lists only %d module files and lookups", len(files))
	}
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Go(func() {
			for _, p := range files {
				got, err := getSHA256(r.url + p)
				if err != nil {
					t.Errorf("replica %s: %v", r.url, err)
				} else if got != want[p] {
					t.Errorf("replica %s serves %s with SHA-256 %s, the bundle lists %s", r.url, p, got, want[p])
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("all 3 replicas serve the %d module files and lookups of the bundle", len(files))

	clientEnv := func(t *testing.T) []string {
		return append(testupstream.GoEnv(t, ng.url), "GOSUMDB="+db.Key, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=", sharedGoCache(t))
	}
	build := func(t *testing.T) error {
		dir := filepath.Join(t.TempDir(), "app")
		copyDir(t, app, dir)
		env := clientEnv(t)
		for _, args := range [][]string{{"mod", "download", "all"}, {"build", "./..."}, {"mod", "verify"}} {
			if _, err := testupstream.RunGo(t, dir, env, args...); err != nil {
				return err
			}
		}
		return nil
	}
	if err := build(t); err != nil {
		t.Fatalf("a go client through nginx: %v", err)
	}

	// fault runs six clients in parallel and calls fault once nginx has
	// answered a few of their requests; every client must succeed, and
	// the clients must still have been fetching after the fault.
	fault := func(t *testing.T, name string, fault func()) {
		start := ng.lines(t)
		errs := make(chan error, 6)
		for range 6 {
			go func() { errs <- build(t) }()
		}
		var at int
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			if at = ng.lines(t); at-start >= 20 || time.Now().After(deadline) {
				break
			}
		}
		fault()
		t.Logf("%s after %d requests of the clients", name, at-start)
		for range 6 {
			if err := <-errs; err != nil {
				t.Errorf("a go client failed after %s: %v", name, err)
			}
		}
		if after := ng.lines(t) - at; after < 20 {
			t.Errorf("only %d requests after %s: the fault was not in the middle of the run", after, name)
		} else {
			t.Logf("%d requests after %s, all builds succeeded", after, name)
		}
	}
	fault(t, "SIGKILL of a replica", func() { reps[1].kill(t) })
	retried := 0
	for _, l := range ng.log(t) {
		if strings.Contains(l, reps[1].addr+", ") {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("nginx never retried a request the killed replica refused:\n%s", strings.Join(ng.log(t), "\n"))
	}
	t.Logf("nginx retried %d requests on another replica", retried)

	fault(t, "removal of a MinIO drive", func() {
		if err := os.RemoveAll(filepath.Join(mio.Dir, "drive3")); err != nil {
			t.Fatal(err)
		}
	})
	for _, l := range ng.log(t) {
		if f := strings.Fields(l); len(f) > 0 && f[0] != "200" {
			t.Errorf("nginx answered a client with %s", l)
		}
	}

	// A deletion by another process reaches every live replica.
	var gone module.Version
	for _, p := range files {
		if v, k, err := modfiles.ParseName("download" + p); err == nil && k == modfiles.Zip {
			gone = v
			break
		}
	}
	live := []*replica{reps[0], reps[2]}
	urls := []string{}
	for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
		name, _ := modfiles.Name(gone, k)
		urls = append(urls, "/"+strings.TrimPrefix(name, "download/"))
	}
	for _, r := range live {
		for _, u := range urls {
			if _, err := getSHA256(r.url + u); err != nil {
				t.Fatalf("before the deletion: %v", err)
			}
		}
	}
	mfEnv(t, s3env, "delete", "--store", store, "--reason", "licence withdrawn", gone.String())
	time.Sleep(1500 * time.Millisecond)
	for _, r := range live {
		for _, u := range urls {
			resp, err := http.Get(r.url + u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusGone || !strings.Contains(string(b), "licence withdrawn") {
				t.Errorf("replica %s, %s 1.5 s after the deletion: %s (%d bytes), want 410 with the reason", r.url, u, resp.Status, len(b))
			}
		}
	}
}

// minioEnv returns mio's environment for the modferry command: the AWS
// variables set, the ones Env leaves empty removed by giving them no
// value (the AWS SDK treats an empty variable as unset).
func minioEnv(mio *miniotest.Server) []string {
	var env []string
	for k, v := range mio.Env() {
		env = append(env, k+"="+v)
	}
	return env
}

// tokenAdd runs `modferry token add` with env added to the environment
// and returns the secret.
func tokenAdd(t *testing.T, env []string, store, name, scopes string) string {
	t.Helper()
	cmd := exec.Command(modferryBin, "token", "add", "--store", store, "--name", name, "--scope", scopes)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("token add %s: %v", name, err)
	}
	secret := strings.TrimSpace(string(out))
	if !strings.HasPrefix(secret, "mf_") || strings.Contains(secret, "\n") {
		t.Fatalf("token add printed %q, want the secret alone", out)
	}
	return secret
}

func getSHA256(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// A replica is a `modferry serve` process the test can kill.
type replica struct {
	url, addr string
	cmd       *exec.Cmd
	done      chan error
	logs      *syncBuffer
	killed    bool
}

// startReplica runs `modferry serve --addr ADDR args...` with env added
// to the environment and waits for /healthz. When the test ends, a replica
// that was not killed is stopped with SIGINT and must exit cleanly.
func startReplica(t *testing.T, env []string, args ...string) *replica {
	t.Helper()
	r := &replica{addr: freeAddr(t), done: make(chan error, 1), logs: new(syncBuffer)}
	r.url = "http://" + r.addr
	r.cmd = exec.Command(modferryBin, append([]string{"serve", "--addr", r.addr}, args...)...)
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.killed {
			return
		}
		r.cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("replica %s exited with %v\n%s", r.addr, err, r.logs.String())
			}
		case <-time.After(20 * time.Second):
			r.cmd.Process.Kill()
			t.Errorf("replica %s did not stop on SIGINT\n%s", r.addr, r.logs.String())
		}
		if strings.Contains(r.logs.String(), "mf_") {
			t.Errorf("replica %s logged a token:\n%s", r.addr, r.logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get(r.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case err := <-r.done:
			t.Fatalf("replica %s exited early: %v\n%s", r.addr, err, r.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("replica %s never became healthy\n%s", r.addr, r.logs.String())
	return nil
}

// kill kills the replica with SIGKILL, as a crash would.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.killed = true
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

// An nginxProxy is nginx in front of the replicas, logging one line per
// request: status, the upstream addresses tried, the request URI.
type nginxProxy struct {
	url, dir string
}

// nginxUpstreamConf is the load balancer: the replicas as one upstream,
// and a request that fails to connect, times out or gets 502, 503 or 504
// before any of its answer was sent is tried on the next replica. nginx
// retries only idempotent requests (GET, HEAD): non_idempotent is not
// set, so a bundle upload is never sent twice.
const nginxUpstreamConf = `%[1]s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
    log_format replicas '$status $upstream_addr $upstream_status $request_uri';
    access_log %[2]s/access.log replicas;
    client_body_temp_path %[2]s/cb;
    proxy_temp_path %[2]s/px;
    fastcgi_temp_path %[2]s/fc;
    uwsgi_temp_path %[2]s/uw;
    scgi_temp_path %[2]s/sc;
    upstream modferry {
%[3]s        keepalive 16;
    }
    server {
        listen %[4]s;
        client_max_body_size 0;
        location / {
            proxy_pass http://modferry;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 3;
        }
    }
}
`

func startNginxUpstream(t *testing.T, reps []*replica) *nginxProxy {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	var servers strings.Builder
	for _, r := range reps {
		fmt.Fprintf(&servers, "        server %s max_fails=1 fail_timeout=30s;\n", r.addr)
	}
	user := ""
	if os.Geteuid() == 0 { // workers would drop to nobody, who cannot write dir
		user = "user root;"
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxUpstreamConf, user, dir, servers.String(), addr), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nginx", "-t", "-c", conf, "-p", dir).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command("nginx", "-c", conf, "-p", dir, "-g", "daemon off;")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT) // graceful
		cmd.Wait()
	})
	ng := &nginxProxy{url: "http://" + addr, dir: dir}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(ng.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return ng
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx at %s never answered /healthz: %v\n%s", ng.url, err, logs.String())
		}
	}
}

// log returns nginx's access log lines so far.
func (ng *nginxProxy) log(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(ng.dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// lines returns how many requests nginx has logged.
func (ng *nginxProxy) lines(t *testing.T) int { return len(ng.log(t)) }
