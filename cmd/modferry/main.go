// Command modferry carries Go module dependencies into networks without
// internet access and serves them there as a GOPROXY.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/modferry/modferry/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx = store.WithWaitNotice(ctx, func() {
		fmt.Fprintln(os.Stderr, "modferry: waiting for the store's import lock: another import, publish, delete or prune is changing this store; going on once it has finished (Ctrl-C stops here without changing any module)")
	})
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
