//go:build !linux

package store

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/modferry/modferry/internal/safefile"
)

// SyncFS makes everything under dir durable. Without syncfs(2) (Linux
// only) it fsyncs every file and directory under dir, which is correct but
// slow on a large store: serving and importing are Linux-first.
func SyncFS(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		if d.IsDir() {
			return safefile.SyncDir(path)
		}
		return syncFile(path)
	})
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

func syncFile(path string) error {
	flag := os.O_RDONLY
	if runtime.GOOS == "windows" {
		flag = os.O_RDWR // FlushFileBuffers needs write access
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
