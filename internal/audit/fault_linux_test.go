package audit

import (
	"context"
	"os"
	"syscall"
	"testing"
)

// Linux only: fallocate, and the block count of syscall.Stat_t.

// TestBeginReservesBlocks: on Linux the outcome's room is allocated to the
// log file, beyond its end, before the intent is written.
func TestBeginReservesBlocks(t *testing.T) {
	l := openTestLog(t, t.TempDir())
	if _, err := l.Begin(context.Background(), publishX); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if allocated := st.Blocks * 512; allocated < fi.Size()+OutcomeRoom {
		t.Errorf("the file system did not keep the reservation (%d bytes allocated for %d)", allocated, fi.Size())
	}
}
