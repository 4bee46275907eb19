package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// goRunner runs the go command with a fixed environment.
type goRunner struct {
	env       []string // complete environment, without GOPROXY, GOFLAGS and GOWORK
	rec       *recorder
	proxyTail string // after the recorder in GOPROXY: "", ",direct" or "|direct"
	local     string // the go command's own version, for example "go1.26.8"
	zips      *zipFetcher
}

// procsEnv returns the GOMAXPROCS setting of the go commands Resolve runs
// in env: none when env sets one (the user's choice stands), else the
// recorder's limit on upstream fetches, jobs, and never fewer than the
// cores. The go command fetches as many modules at once as its GOMAXPROCS
// (go mod download, and the queues that load the module graph and the
// packages), so on a 2-core machine it waited on two downloads at a time:
// the bench project (bench/k8sproject) resolved in 17.1-18.2 s with 2,
// 7.7-8.6 s with 8, and about 5.3 s with 32, where it stops paying (64
// gives the same; bench/results/exportnet.md). A go command on a 32-core
// machine fetches as many at once by itself.
func procsEnv(env []string, jobs int) []string {
	if lookupEnv(env, "GOMAXPROCS") != "" {
		return nil
	}
	return []string{"GOMAXPROCS=" + strconv.Itoa(max(jobs, runtime.NumCPU()))}
}

// envKeysOwned are set by Resolve and never inherited.
var envKeysOwned = []string{"GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN", "GOWORK"}

// mode selects GOFLAGS and GOWORK for a command.
type mode int

const (
	moduleMode    mode = iota // GOWORK=off GOFLAGS=-mod=mod -modcacherw
	workspaceMode             // go.work found from the directory; GOFLAGS=-modcacherw
)

// run runs go args in dir for project and returns its standard output.
// It counts the recorder's requests under the command's name.
func (g *goRunner) run(ctx context.Context, project, dir string, m mode, args ...string) ([]byte, error) {
	stdout, _, err := g.run2(ctx, project, dir, m, args...)
	return stdout, err
}

// run2 is run returning the standard error too (go install -n prints
// the build commands there).
func (g *goRunner) run2(ctx context.Context, project, dir string, m mode, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append([]string(nil), g.env...)
	if g.rec != nil {
		command := strings.Join(args, " ")
		id := g.rec.newCommand(project, command, project+": go "+command)
		cmd.Env = append(cmd.Env, "GOPROXY="+g.rec.proxyURL(id)+g.proxyTail)
	}
	switch m {
	case moduleMode:
		cmd.Env = append(cmd.Env, "GOWORK=off", "GOFLAGS=-mod=mod -modcacherw")
	case workspaceMode:
		cmd.Env = append(cmd.Env, "GOFLAGS=-modcacherw")
	}
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	if err := cmd.Run(); err != nil {
		return nil, errBuf.Bytes(), &GoCommandError{Project: project, Dir: dir, Args: args, Stderr: tail(errBuf.String(), 30), Err: err}
	}
	return outBuf.Bytes(), errBuf.Bytes(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// userGoEnv is the part of the user's go environment that Resolve keeps.
type userGoEnv struct {
	GOPROXY, GOPRIVATE, GONOPROXY, GONOSUMDB, GOSUMDB string
	GOAUTH, GOINSECURE, GOVCS, GOVERSION              string
}

// readGoEnv runs go env with the user's environment plus extra.
func readGoEnv(ctx context.Context, extra []string) (*userGoEnv, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "-json", "GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOSUMDB", "GOAUTH", "GOINSECURE", "GOVCS", "GOVERSION")
	cmd.Env = append(os.Environ(), extra...)
	cmd.Env = append(cmd.Env, "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %v\n%s", err, tail(stderr.String(), 10))
	}
	var e userGoEnv
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, fmt.Errorf("go env: %v", err)
	}
	return &e, nil
}

// childEnv builds the go command's environment: the process environment
// without the variables Resolve owns, the user's resolved go settings,
// extra, then Resolve's own settings (which win).
func childEnv(ue *userGoEnv, extra, own []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !owned(k) {
			env = append(env, kv)
		}
	}
	env = append(env,
		"GOPRIVATE="+ue.GOPRIVATE, "GONOPROXY="+ue.GONOPROXY, "GONOSUMDB="+ue.GONOSUMDB,
		"GOSUMDB="+ue.GOSUMDB, "GOAUTH="+ue.GOAUTH, "GOINSECURE="+ue.GOINSECURE, "GOVCS="+ue.GOVCS)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		if !owned(k) {
			env = append(env, kv)
		}
	}
	return append(env, own...)
}

func owned(k string) bool {
	for _, o := range envKeysOwned {
		if k == o {
			return true
		}
	}
	return false
}

// lookupEnv returns the last value of k in env.
func lookupEnv(env []string, k string) string {
	v := ""
	for _, kv := range env {
		if kk, vv, ok := strings.Cut(kv, "="); ok && kk == k {
			v = vv
		}
	}
	return v
}
