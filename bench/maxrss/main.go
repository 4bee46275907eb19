// Command maxrss runs a command and records its wall time and peak
// memory:
//
//	maxrss OUTFILE command args...
//
// writes "SECONDS TREE_KB SELF_KB" to OUTFILE and exits with the command's
// status. TREE_KB is the peak resident set size of the command and the
// descendants it waited for (getrusage), SELF_KB the peak of the command's
// own process, sampled from /proc every 10 ms (VmHWM). With MAXRSS_ANON=1
// a fourth field follows: ANON_KB, the peak of the command's own anonymous
// memory (RssAnon, sampled likewise), which leaves out the executable's
// file-backed pages that VmHWM counts. With MAXRSS_CPU=1 a last field
// follows: CPU_SECONDS, the user and system time of the command and the
// descendants it waited for (on a busy machine, steadier than wall time).
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
	anon := make(chan int64, 1)
	go func() {
		var peak, peakAnon int64
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := statusKB(status, "VmHWM:"); v > peak {
				peak = v
			}
			if v := statusKB(status, "RssAnon:"); v > peakAnon {
				peakAnon = v
			}
			select {
			case <-done:
				self <- peak
				anon <- peakAnon
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
	line := fmt.Appendf(nil, "%.3f %d %d", el.Seconds(), tree, <-self)
	if os.Getenv("MAXRSS_ANON") == "1" {
		line = fmt.Appendf(line, " %d", <-anon)
	}
	if os.Getenv("MAXRSS_CPU") == "1" {
		line = fmt.Appendf(line, " %.3f", (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
	}
	os.WriteFile(os.Args[1], append(line, '\n'), 0o644)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		os.Exit(1)
	}
}

// statusKB reads a field in kB, such as "VmHWM:", from a /proc status file.
func statusKB(status, key string) int64 {
	f, err := os.Open(status)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
