// Command maxrss runs a command and prints, on stderr, its wall time and
// the peak resident set size of it and the descendants it waited for:
//
//	maxrss OUTFILE command args...
//
// writes "SECONDS MAXRSS_KB" to OUTFILE and exits with the command's status.
package main

import (
	"fmt"
	"os"
	"os/exec"
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
	err := cmd.Run()
	el := time.Since(start)
	rss := int64(0)
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
		}
	}
	os.WriteFile(os.Args[1], fmt.Appendf(nil, "%.3f %d\n", el.Seconds(), rss), 0o644)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
