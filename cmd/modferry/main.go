// Command modferry carries Go module dependencies into networks without
// internet access and serves them there as a GOPROXY.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startMemProfile()
	stopCPUProfile := startCPUProfile()
	stopTrace := startTrace()
	err := newRoot().ExecuteContext(ctx)
	stop()
	stopTrace()
	stopCPUProfile()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "modferry:", err)
		os.Exit(exitCode(err))
	}
}
