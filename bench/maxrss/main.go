// Command maxrss runs a command and records its wall time and peak
// memory:
//
//	maxrss OUTFILE command args...
//
// writes "SECONDS TREE_KB SELF_KB" to OUTFILE and exits with the command's
// status. TREE_KB is the peak resident set size of the command and the
// descendants it waited for (getrusage), SELF_KB the peak of the command's
// own process, sampled from /proc every 10 ms (VmHWM).
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: maxrss OUTFILE command [args...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	done := make(chan struct{})
	self := make(chan int64, 1)
	go func() {
		var peak int64
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := vmHWM(status); v > peak {
				peak = v
			}
			select {
			case <-done:
				self <- peak
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	el := time.Since(start)
	close(done)
	tree := int64(0)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		tree = ru.Maxrss
	}
	os.WriteFile(os.Args[1], fmt.Appendf(nil, "%.3f %d %d\n", el.Seconds(), tree, <-self), 0o644)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		os.Exit(1)
	}
}

// vmHWM reads the peak resident set size (kB) from a /proc status file.
func vmHWM(status string) int64 {
	f, err := os.Open(status)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
