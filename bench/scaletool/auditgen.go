package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/modferry/modferry/internal/audit"
)

// fileJournal is an audit.Journal that appends lines to a buffered file
// and remembers only the last: audit.AppendJournal chains each entry onto
// it exactly as the log does, with no fsync per entry.
type fileJournal struct {
	w    *bufio.Writer
	seq  int64
	last []byte
}

func (j *fileJournal) Append(_ context.Context, seq int64, line []byte) error {
	if seq != j.seq+1 {
		return fmt.Errorf("entry %d after %d", seq, j.seq)
	}
	j.seq, j.last = seq, append(j.last[:0], line...)
	if _, err := j.w.Write(line); err != nil {
		return err
	}
	return j.w.WriteByte('\n')
}

func (j *fileJournal) Last(context.Context) (int64, []byte, error) {
	if j.seq == 0 {
		return 0, nil, nil
	}
	return j.seq, j.last, nil
}

func (j *fileJournal) Entries(context.Context, int64, func(int64, []byte) error) error {
	return fmt.Errorf("not kept")
}

// auditgen writes DIR/log.jsonl with N entries shaped like a busy
// server's (imports, publishes, deletes, starts), DIR/head.json naming the
// last, and the lock file, as package audit keeps them.
func auditgen(args []string) error {
	if len(args) != 2 {
		usage()
	}
	dir := args[0]
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		return fmt.Errorf("the entry count: want a positive number")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, audit.LogFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	j := &fileJournal{w: bufio.NewWriterSize(f, 1<<20)}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		e := audit.Entry{Time: t0.Add(time.Duration(i) * time.Second), Actor: "token:ci", Result: "ok"}
		switch i % 4 {
		case 0:
			e.Action, e.Target, e.Result = "publish", fmt.Sprintf("corp.example/lib%d@v1.%d.0", i%997, i), "pending"
			e.Detail = map[string]string{"via": "api"}
		case 1:
			e.Action, e.Target = "publish", fmt.Sprintf("corp.example/lib%d@v1.%d.0", i%997, i-1)
			e.Detail = map[string]string{"intent": strconv.Itoa(i), "via": "api", "h1": "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}
		case 2:
			e.Action, e.Target, e.Actor = "import", fmt.Sprintf("deps-%d.tar.zst", i), "cli:ops"
			e.Detail = map[string]string{"modules": strconv.Itoa(i % 500)}
		default:
			e.Action, e.Target, e.Actor = "server.start", "127.0.0.1:3000", "server"
		}
		if _, err := audit.AppendJournal(ctx, j, e); err != nil {
			return err
		}
	}
	if err := j.w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256(j.last)
	head, _ := json.Marshal(audit.Head{Seq: j.seq, Hash: hex.EncodeToString(sum[:])})
	if err := os.WriteFile(filepath.Join(dir, audit.HeadFile), head, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, audit.LockFile), nil, 0o600)
}
