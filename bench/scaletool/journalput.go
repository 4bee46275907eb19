package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/s3store"
)

// journalput writes the entries of DIR/log.jsonl (auditgen's) into the
// store at URL (an s3:// URL; the bucket is created if missing) as the
// audit journal of a store that several servers share: entry N is the
// object audit/entries/N, zero-padded, holding line N, as
// audit.StoreJournal keeps it. The objects are written many at once.
func journalput(args []string) error {
	if len(args) != 2 {
		usage()
	}
	ctx := context.Background()
	st, err := s3store.New(ctx, args[0], s3store.Options{CreateBucket: true})
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(args[1], audit.LogFile))
	if err != nil {
		return err
	}
	defer f.Close()
	j := audit.JournalIn(st)
	var objs []store.Object
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		objs = append(objs, store.Object{Name: fmt.Sprintf("%s/%020d", j.Dir, len(objs)+1), Data: append([]byte(nil), sc.Bytes()...)})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return store.WriteGroups(ctx, st, objs)
}
