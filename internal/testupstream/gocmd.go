package testupstream

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goTimeout bounds one go command run by [RunGo].
const goTimeout = 3 * time.Minute

// GoEnv returns an environment for running the real go command hermetically
// against proxy (a GOPROXY value such as Upstream.URL or "file://"+dir; no
// "direct" is added): a fresh GOPATH, GOMODCACHE, GOCACHE and HOME under
// t.TempDir, GOFLAGS=-mod=mod, GOSUMDB=off, GOTOOLCHAIN=local, GOENV=off.
// Every other GO* variable of the test process is dropped (go test sets
// some), as are NETRC and the XDG config and cache directories; PATH and
// the rest are kept.
//
// To change a setting, append to the result: the last value of a variable
// wins. For example append(env, "GOFLAGS=") in a go.work workspace, which
// rejects -mod=mod, or append(env, "GOSUMDB=name+key URL").
//
// The module cache is made writable again when the test ends, so that
// t.TempDir can remove it.
func GoEnv(t testing.TB, proxy string) []string {
	t.Helper()
	root := t.TempDir()
	gopath := filepath.Join(root, "gopath")
	modcache := filepath.Join(gopath, "pkg", "mod")
	t.Cleanup(func() { makeWritable(modcache) })

	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "GO"),
			name == "HOME", name == "NETRC",
			name == "XDG_CONFIG_HOME", name == "XDG_CACHE_HOME":
			continue
		}
		env = append(env, kv)
	}
	home := filepath.Join(root, "home")
	TelemetryOff(t, home)
	return append(env,
		"HOME="+home,
		"GOPATH="+gopath,
		"GOMODCACHE="+modcache,
		"GOCACHE="+filepath.Join(root, "gocache"),
		"GOPROXY="+proxy,
		"GOFLAGS=-mod=mod",
		"GOSUMDB=off",
		"GOTOOLCHAIN=local",
		"GOENV=off",
	)
}

// TelemetryOff turns the go command's telemetry off for a HOME of home
// (writing home/.config/go/telemetry/mode). In its default mode, local,
// each go command starts a detached child that outlives the command: it
// then writes under home after the test has removed it, which leaves
// directories behind in the system's temporary directory.
func TelemetryOff(t testing.TB, home string) {
	t.Helper()
	dir := filepath.Join(home, ".config", "go", "telemetry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mode"), []byte("off"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeWritable undoes the module cache's read-only modes.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// RunGo runs the go command with args in dir and environment env (see
// [GoEnv]) and returns its combined output. It stops the command after a
// few minutes, or at the test's deadline if that comes first. The error
// names the command and includes the output.
func RunGo(t testing.TB, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), goTimeout)
	defer cancel()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			var cancelDeadline context.CancelFunc
			ctx, cancelDeadline = context.WithDeadline(ctx, deadline.Add(-5*time.Second))
			defer cancelDeadline()
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("go %s (in %s)\n%s", strings.Join(args, " "), dir, out)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return string(out), fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
