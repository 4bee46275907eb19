// Package audittest gives tests a store and its audit log in each form
// a store keeps it (package audit: a file on a local store, a journal of
// one object per entry on any other), for readers of the log that must
// read both.
package audittest

import (
	"path/filepath"
	"testing"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store"
)

// A Form is a new, empty store and the audit log its writers would open.
type Form struct {
	Name  string // "file" or "journal"
	Store store.Store
	Log   *audit.Log
}

// Forms returns a disk store with its log file (closed when t ends) and
// a store.Mem with its journal.
func Forms(t testing.TB) []Form {
	t.Helper()
	disk, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fileLog, err := audit.Open(filepath.Join(disk.Root(), audit.StoreDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fileLog.Close() })
	mem := store.NewMem()
	return []Form{
		{"file", disk, fileLog},
		{"journal", mem, audit.OpenJournal(audit.JournalIn(mem), "mem")},
	}
}
