//go:build !unix

package store

import (
	"context"
	"io"
)

// ReadAll implements WholeReader: Open, then read to the end (the
// system-call savings of the Unix version have no counterpart here).
func (d *Disk) ReadAll(ctx context.Context, name string) ([]byte, error) {
	f, err := d.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
