// Package e2e runs the modferry binary and the real go command together:
// the end-to-end proof that go clients build against what modferry
// stores and serves. Slow tests run only with MODFERRY_SLOW=1, tests that
// reach the real upstream proxy only with MODFERRY_LIVE=1 (.ci/run sets
// both).
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// modferryBin is the binary built once for all tests.
var modferryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "modferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	modferryBin = filepath.Join(dir, "modferry")
	build := exec.Command("go", "build", "-o", modferryBin, "github.com/modferry/modferry/cmd/modferry")
	// Static, as README.md installs it: the tests run the binary users run.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building modferry:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func slow(t *testing.T) {
	t.Helper()
	if os.Getenv("MODFERRY_SLOW") != "1" {
		t.Skip("slow end-to-end test: set MODFERRY_SLOW=1 (as .ci/run does)")
	}
}

// mf runs modferry with args and returns its stdout; it fails the test if
// the command fails.
func mf(t *testing.T, args ...string) string {
	t.Helper()
	out, err := mfErr(t, args...)
	if err != nil {
		t.Fatalf("modferry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// mfErr runs modferry and returns stdout+stderr and the error.
func mfErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, modferryBin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	t.Logf("modferry %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serve starts `modferry serve` on store and returns its URL once
// /healthz answers; the server is stopped with SIGINT when the test ends
// and must exit cleanly.
func serve(t *testing.T, store string, extra ...string) string {
	t.Helper()
	return startServer(t, "http", http.DefaultClient, append([]string{"--store", store}, extra...))
}

// startServer runs `modferry serve --addr ADDR args...` and waits for
// /healthz through client. When the test ends it stops the server with
// SIGINT, requires a clean exit, and checks that no token reached the log.
func startServer(t *testing.T, scheme string, client *http.Client, args []string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(modferryBin, append([]string{"serve", "--addr", addr}, args...)...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("modferry serve exited with %v\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("modferry serve did not stop on SIGINT\n%s", logs.String())
		}
		if strings.Contains(logs.String(), "mf_") {
			t.Errorf("the server logged a token:\n%s", logs.String())
		}
	})
	url := scheme + "://" + addr
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if resp, err := client.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		select {
		case err := <-done:
			t.Fatalf("modferry serve exited early: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("modferry serve at %s never became healthy\n%s", url, logs.String())
	return ""
}
