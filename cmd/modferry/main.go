// Command modferry carries Go module dependencies into isolated networks.
package main

// Temporary: keeps the chosen dependencies in go.mod until the commands use them.
import (
	_ "aead.dev/minisign"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/mod/module"
	_ "golang.org/x/mod/sumdb"
	_ "golang.org/x/mod/zip"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "golang.org/x/tools/txtar"
)

func main() {}
