package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/audit"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check and read the store's audit log",
		Long: `The audit log (STORE/audit/log.jsonl) records every import, publish,
delete, token change, server start and stop, and a per-minute summary of
failed authentications, from the command line and over HTTP: one JSON line
each, holding the SHA-256 of the line before it, so that editing, removing,
inserting or reordering entries breaks the chain.

On an s3:// store the log is one object per entry (audit/entries/SEQ),
each created only if absent, with the same chain: every server sharing
the bucket appends to it, and these commands read it there.

Someone able to rewrite the whole directory could rewrite the chain too;
write down 'modferry audit head' somewhere out of their reach (a ticket, a
log book) and check against it later with 'audit verify --head'.`,
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditShowCmd(), newAuditHeadCmd())
	return cmd
}

type auditVerifyOptions struct {
	store string
	file  string
	head  string
	json  bool
}

func newAuditVerifyCmd() *cobra.Command {
	var o auditVerifyOptions
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; name the first bad entry",
		Long: `Check the audit log's hash chain and its head file, and with --head a head
written down earlier. On failure, name the first bad entry and exit 1.

Also reported, without failing: an incomplete last line (an append that a
crash or a full disk interrupted; the next change cuts it off and records
that in an audit.recover entry), the recoveries recorded so far, and
changes begun (an entry with result "pending", written before every
change) whose outcome was never recorded.
--file checks a log file on its own (a copy, say), without a head file
unless --head is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuditVerify(cmd, o)
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVar(&o.file, "file", "", "check this log file instead of the store's")
	cmd.Flags().StringVar(&o.head, "head", "", "also check against this head (SEQ:HASH, from 'audit head')")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

func runAuditVerify(cmd *cobra.Command, o auditVerifyOptions) error {
	ctx := cmd.Context()
	var anchor *audit.Head
	if o.head != "" {
		h, err := audit.ParseHead(o.head)
		if err != nil {
			return err
		}
		anchor = &h
	}
	verifyFile := func(path string, head *audit.Head) (int, error) {
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && (head == nil || head.Seq == 0) {
				return 0, nil
			}
			return 0, err
		}
		defer f.Close()
		if head != nil {
			return audit.VerifyHead(f, *head)
		}
		return audit.Verify(f)
	}
	var n int
	var err error
	path := o.file
	openLog := func() (io.ReadCloser, error) { return os.Open(path) }
	// earlier: the file form of the log on a store that keeps a journal
	// (a store moved from a disk into a bucket), checked on its own.
	var earlier *earlierLog
	if o.file != "" {
		n, err = verifyFile(o.file, anchor)
	} else if isObjectStore(o.store) {
		// A log kept as one object per entry: no head file, no torn
		// lines (each entry is written whole or not at all).
		st, oerr := openExistingStore(ctx, o.store)
		if oerr != nil {
			return oerr
		}
		l, _ := openAudit(st)
		path = l.Path()
		j := audit.JournalIn(st)
		openLog = func() (io.ReadCloser, error) { return audit.JournalReader(ctx, j), nil }
		fn, here, ferr := audit.VerifyStoreFile(ctx, st)
		var torn *audit.TornError
		if errors.As(ferr, &torn) {
			ferr = nil // an interrupted append on the disk the log came from
		}
		if here {
			earlier = &earlierLog{path: storeString(st) + "/" + audit.StoreDir + "/" + audit.LogFile, entries: fn}
			if ferr != nil {
				var ce *audit.ChainError
				if errors.As(ferr, &ce) {
					return fmt.Errorf("%s: TAMPERED: %w; the %d entries before it are intact", earlier.path, ce, fn)
				}
				return fmt.Errorf("%s: %w", earlier.path, ferr)
			}
		} else if ferr != nil {
			return ferr
		}
		n, err = l.Verify(ctx)
		if err == nil && anchor != nil {
			r := audit.JournalReader(ctx, j)
			n, err = audit.VerifyHead(r, *anchor)
			r.Close()
		}
	} else {
		dir := filepath.Join(o.store, audit.StoreDir)
		path = filepath.Join(dir, audit.LogFile)
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("no audit log in %s: %w", o.store, serr)
		}
		var l *audit.Log
		if l, err = audit.Open(dir); err != nil {
			return err
		}
		n, err = l.Verify(ctx)
		l.Close()
		var torn *audit.TornError
		if (err == nil || errors.As(err, &torn)) && anchor != nil {
			n, err = verifyFile(path, anchor)
		}
	}
	// A torn last line is an interrupted append, not tampering.
	var torn *audit.TornError
	if errors.As(err, &torn) {
		err = nil
	}
	var notes auditNotes
	if err == nil {
		notes, err = readAuditNotes(openLog)
	}
	w := cmd.OutOrStdout()
	var ce *audit.ChainError
	if o.json {
		res := map[string]any{"log": path, "entries": n, "ok": err == nil}
		if earlier != nil {
			res["earlierLog"] = map[string]any{"log": earlier.path, "entries": earlier.entries}
		}
		if errors.As(err, &ce) {
			res["badLine"], res["badSeq"], res["reason"] = ce.Line, ce.Seq, ce.Reason
		} else if err != nil {
			res["error"] = err.Error()
		}
		if torn != nil {
			res["tornLine"] = map[string]any{"line": torn.Line, "bytes": torn.Bytes}
		}
		if err == nil {
			res["recoveries"], res["unconfirmed"] = notes.recoveries, notes.unconfirmed
		}
		if perr := printJSON(w, res); perr != nil {
			return perr
		}
		if err != nil {
			return fmt.Errorf("audit log verification failed: %w", err)
		}
		return nil
	}
	if err != nil {
		if errors.As(err, &ce) {
			return fmt.Errorf("%s: TAMPERED: %w; the %d entries before it are intact", path, ce, n)
		}
		return err
	}
	if earlier != nil {
		fmt.Fprintf(w, "ok: %s holds %d entries, chain intact (the log this store kept as a file; the journal took over)\n", earlier.path, earlier.entries)
	}
	fmt.Fprintf(w, "ok: %s holds %d entries, chain intact\n", path, n)
	if torn != nil {
		fmt.Fprintf(w, "torn: line %d is incomplete (%d bytes, no newline): an append interrupted by a crash or a full disk, never acknowledged, not tampering; the next change cuts it off and records that\n", torn.Line, torn.Bytes)
	}
	for _, e := range notes.recoveries {
		fmt.Fprintf(w, "recovered: entry %d (%s): %s\n", e.Seq, e.Time.Format(time.RFC3339), recoveryText(e))
	}
	for _, e := range notes.unconfirmed {
		fmt.Fprintf(w, "unconfirmed: entry %d (%s): %s %s by %s was begun, but no outcome is recorded (a crash, or a disk that stayed full): check whether it happened\n",
			e.Seq, e.Time.Format(time.RFC3339), e.Action, e.Target, e.Actor)
	}
	return nil
}

// earlierLog is the file form of a store's log that a journal took over.
type earlierLog struct {
	path    string
	entries int
}

// auditNotes are what a verified log says about its own troubles.
type auditNotes struct {
	recoveries  []audit.Entry // audit.recover entries
	unconfirmed []audit.Entry // intents with no recorded outcome
}

func readAuditNotes(open func() (io.ReadCloser, error)) (auditNotes, error) {
	var notes auditNotes
	f, err := open()
	if errors.Is(err, fs.ErrNotExist) {
		return notes, nil
	}
	if err != nil {
		return notes, err
	}
	notes.recoveries, err = audit.Read(f, audit.Filter{Action: audit.ActionRecover})
	f.Close()
	if err != nil {
		return notes, err
	}
	if f, err = open(); err != nil {
		return notes, err
	}
	defer f.Close()
	notes.unconfirmed, err = audit.Unconfirmed(f)
	if notes.recoveries == nil {
		notes.recoveries = []audit.Entry{}
	}
	if notes.unconfirmed == nil {
		notes.unconfirmed = []audit.Entry{}
	}
	return notes, err
}

func recoveryText(e audit.Entry) string {
	if b := e.Detail["tornBytes"]; b != "" {
		return fmt.Sprintf("cut off a torn last line of %s bytes (sha256 %.16s…), left by an interrupted append", b, e.Detail["tornSHA256"])
	}
	if n := e.Detail["dropped"]; n != "" {
		return fmt.Sprintf("%s entries were lost while the log could not be written", n)
	}
	return e.Detail["reason"]
}

type auditShowOptions struct {
	store  string
	filter audit.Filter
	since  string
	until  string
	json   bool
}

func newAuditShowCmd() *cobra.Command {
	var o auditShowOptions
	cmd := &cobra.Command{
		Use:   "show [--action A] [--actor X] [--target T] [--since DUR|TIME]",
		Short: "Print audit log entries, oldest first",
		Long: `Print the entries of the audit log that match every filter given, oldest
first. It reads without checking the chain: run 'audit verify' for that.

Actions: import, publish, delete, token.add, token.revoke, auth.failure,
server.start, server.stop, audit.recover. Every change has two entries: its
intent (result "pending"), written before it is made, and its outcome (ok,
denied or error; detail intent=SEQ names the intent). Actors: "local:USER" (command line),
"token:NAME" (HTTP API), "server".`,
		Example: `  modferry audit show --store /srv/modferry --action delete --since 30d
  modferry audit show --store /srv/modferry --target corp.example/lib --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuditShow(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVar(&o.filter.Action, "action", "", "only this action")
	cmd.Flags().StringVar(&o.filter.Actor, "actor", "", "only this actor (local:USER, token:NAME, server)")
	cmd.Flags().StringVar(&o.filter.Target, "target", "", "only targets containing this text")
	cmd.Flags().StringVar(&o.since, "since", "", "only entries since a time (RFC 3339 or 2006-01-02) or for a duration back (24h, 7d)")
	cmd.Flags().StringVar(&o.until, "until", "", "only entries before a time or duration back")
	cmd.Flags().BoolVar(&o.json, "json", false, "print a JSON array of entries")
	return cmd
}

func runAuditShow(ctx context.Context, w io.Writer, o auditShowOptions) error {
	var err error
	now := time.Now()
	if o.filter.Since, err = parseWhen("--since", o.since, now); err != nil {
		return err
	}
	if o.filter.Until, err = parseWhen("--until", o.until, now); err != nil {
		return err
	}
	var f io.ReadCloser
	var entries []audit.Entry
	if isObjectStore(o.store) {
		st, err := openExistingStore(ctx, o.store)
		if err != nil {
			return err
		}
		// The file the store's log was before a journal took over (a
		// store moved from a disk), if any, read on its own (a torn last
		// line ends it), then the journal.
		if ff, ferr := audit.StoreFileReader(ctx, st); ferr == nil {
			entries, err = audit.Read(ff, o.filter)
			ff.Close()
			if err != nil {
				return err
			}
		} else if !errors.Is(ferr, fs.ErrNotExist) {
			return ferr
		}
		f = audit.JournalReader(ctx, audit.JournalIn(st))
	} else {
		f, err = os.Open(filepath.Join(o.store, audit.StoreDir, audit.LogFile))
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		defer f.Close()
		more, err := audit.Read(f, o.filter)
		if err != nil {
			return err
		}
		entries = append(entries, more...)
	}
	if o.json {
		if entries == nil {
			entries = []audit.Entry{}
		}
		return printJSON(w, entries)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tRESULT\tDETAIL")
	for _, e := range entries {
		var d []string
		for k, v := range e.Detail {
			d = append(d, k+"="+v)
		}
		slices.Sort(d)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Result, strings.Join(d, " "))
	}
	return tw.Flush()
}

// parseWhen reads a time (RFC 3339 or a date) or a duration back from now
// ("24h", "7d"); "" is the zero time.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := parseLongDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("%s %q: want a time (2025-01-31, RFC 3339) or a duration back (24h, 7d)", flag, s)
}

func newAuditHeadCmd() *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:   "head",
		Short: "Print the head of the audit log (SEQ:HASH), to write down elsewhere",
		Long: `Print the audit log's head, SEQ:HASH: the number of the newest entry and
the SHA-256 of its line. Keep it outside the system; later,
'modferry audit verify --head SEQ:HASH' proves that no entry up to it was
changed, removed or reordered, even by someone able to rewrite the log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var l *audit.Log
			if isObjectStore(store) {
				st, err := openExistingStore(cmd.Context(), store)
				if err != nil {
					return err
				}
				l, _ = openAudit(st)
			} else {
				dir := filepath.Join(store, audit.StoreDir)
				if _, err := os.Stat(dir); err != nil {
					return fmt.Errorf("no audit log in %s: %w", store, err)
				}
				var err error
				if l, err = audit.Open(dir); err != nil {
					return err
				}
			}
			defer l.Close()
			var torn *audit.TornError
			if _, err := l.Verify(cmd.Context()); err != nil && !errors.As(err, &torn) {
				return fmt.Errorf("the log fails verification; not printing its head: %w", err)
			}
			h, err := l.Head(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), h)
			return nil
		},
	}
	addStoreFlag(cmd, &store)
	return cmd
}
