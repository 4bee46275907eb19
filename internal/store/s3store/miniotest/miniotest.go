// Package miniotest runs a real MinIO server for tests: erasure-coded
// over four drives (MINIO_CI_CD=on minio server DIR/drive{1...4}) in a
// temporary directory, listening on a free loopback port, with one bucket.
//
// The minio binary is $MODFERRY_MINIO, else minio on PATH, else the one
// scripts/test.sh builds into the user cache directory
// (${XDG_CACHE_HOME:-$HOME/.cache}/modferry/minio/VERSION/minio). Without
// a binary, Start skips the test, unless MODFERRY_REQUIRE_MINIO=1 (CI
// sets it), which makes it fail instead, so that CI never skips silently.
package miniotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is the MinIO module version scripts/test.sh builds:
//
//	go install github.com/minio/minio@VERSION
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Credentials and bucket of every server this package starts.
const (
	AccessKey = "modferry-test"
	SecretKey = "modferry-test-secret"
	Bucket    = "modferry"
	Region    = "us-east-1"
)

// ErrNoBinary is returned by Find when no minio binary is found.
var ErrNoBinary = errors.New("no minio binary")

var errExited = errors.New("minio exited before it served")

// CacheBinary returns where scripts/test.sh keeps the binary it builds.
// Like the script, it uses $XDG_CACHE_HOME, else $HOME/.cache, on every
// system.
func CacheBinary() (string, error) {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "modferry", "minio", Version, "minio"), nil
}

// Find returns the minio binary to run.
func Find() (string, error) {
	if p := os.Getenv("MODFERRY_MINIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("MODFERRY_MINIO: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	if p, err := CacheBinary(); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: set MODFERRY_MINIO, put minio on PATH, or run scripts/test.sh, which builds it (go install github.com/minio/minio@%s)", ErrNoBinary, Version)
}

// Server is a running MinIO.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Dir      string // holds the drives and the log

	bin     string
	addr    string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// Start runs a MinIO for the test t and stops it when t ends; it skips
// the test if there is no binary (see the package documentation).
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	s, err := Launch(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Require returns the minio binary, or skips t (fails it if
// MODFERRY_REQUIRE_MINIO=1) when there is none.
func Require(t testing.TB) string {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv("MODFERRY_REQUIRE_MINIO") == "1" {
			t.Fatalf("MODFERRY_REQUIRE_MINIO=1: %v", err)
		}
		t.Skipf("skipping the tests on a real MinIO: %v", err)
	}
	return bin
}

// Launch starts bin as a MinIO server keeping its drives in dir, waits
// until it serves, and creates Bucket. The caller must Stop it.
func Launch(bin, dir string) (*Server, error) {
	s := &Server{bin: bin, Dir: dir, logPath: filepath.Join(dir, "minio.log")}
	var err error
	for range 3 { // another process may take the free port first
		if s.addr, err = freeAddr(); err != nil {
			return nil, err
		}
		s.Endpoint = "http://" + s.addr
		if err = s.start(); !errors.Is(err, errExited) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.createBucket(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the server on s.addr and waits for it.
func (s *Server) start() error {
	consoleAddr, err := freeAddr()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(s.bin, "server",
		"--address", s.addr, "--console-address", consoleAddr,
		"--certs-dir", filepath.Join(s.Dir, "certs"),
		filepath.Join(s.Dir, "drive{1...4}"))
	cmd.Env = append(os.Environ(),
		"MINIO_CI_CD=on", // drives on the root disk are fine
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_ROOT_USER="+AccessKey,
		"MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_REGION="+Region,
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(60 * time.Second); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// waitReady polls the liveness endpoint, then the cluster health endpoint
// (write quorum on the drives).
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for _, p := range []string{"/minio/health/live", "/minio/health/cluster"} {
		for {
			resp, err := client.Get(s.Endpoint + p)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-s.exited:
				return fmt.Errorf("%w: %s", errExited, s.logTail())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("minio not ready at %s%s after %v: %s", s.Endpoint, p, timeout, s.logTail())
			}
		}
	}
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// Client returns an S3 client of the server, with its root credentials.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		UsePathStyle: true,
	})
}

func (s *Server) createBucket() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket)})
	if err != nil {
		return fmt.Errorf("creating bucket %s on minio at %s: %w", Bucket, s.Endpoint, err)
	}
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s) and waits for
// it to exit. The drives stay for Restart.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Kill kills the server at once (SIGKILL), as a crash would, and waits
// for it to exit. The drives stay for Restart.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts a stopped server again, on the same port and drives.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return errors.New("minio is running")
	}
	return s.start()
}

// Env returns the environment variables that point the AWS SDK's default
// configuration at the server and isolate it from the user's own AWS
// setup (profile, shared files, instance metadata).
func (s *Server) Env() map[string]string {
	none := filepath.Join(s.Dir, "no-such-aws-file")
	return map[string]string{
		"AWS_ENDPOINT_URL":            s.Endpoint,
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_REGION":                  Region,
		"AWS_ACCESS_KEY_ID":           AccessKey,
		"AWS_SECRET_ACCESS_KEY":       SecretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

// SetEnv sets Env for the test t (empty values unset the variable) and
// restores the environment when t ends.
func (s *Server) SetEnv(t *testing.T) {
	t.Helper()
	SetEnv(t, s.Env())
}

// SetEnv sets the variables for t; an empty value unsets one.
func SetEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
		if v == "" {
			os.Unsetenv(k)
		}
	}
}
