// Package tinyfs runs a test in a child process that sees a small tmpfs
// mounted on a directory, so that the test can fill a filesystem for real
// (ENOSPC from the kernel) without root and without touching the host:
// the child runs under unshare(1) in its own user and mount namespaces.
package tinyfs

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// envDir names the mounted directory in the child process.
const envDir = "MODFERRY_TINYFS_DIR"

// Dir returns the tmpfs directory in the child process started by Run,
// and "" anywhere else.
func Dir() string { return os.Getenv(envDir) }

// Run runs the test function named test of the current test binary in a
// child process where a tmpfs of size bytes is mounted on a new temporary
// directory (Dir tells the child where), and fails t with the child's
// output if the child fails. It needs unshare(1) from util-linux and a
// kernel that allows unprivileged user namespaces (or root).
func Run(t *testing.T, test string, size int64) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed to fill a filesystem: %v", err)
	}
	dir := t.TempDir()
	script := `mount -t tmpfs -o size=` + strconv.FormatInt(size, 10) + ` tmpfs "$1" && shift && exec "$@"`
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", dir,
		os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), envDir+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s on a %d-byte tmpfs: %v\n%s", test, size, err, out)
	}
	t.Logf("%s on a %d-byte tmpfs:\n%s", test, size, out)
}
