// Package audit keeps modferry's append-only, hash-chained audit log.
//
// # Files
//
// The log lives in a directory inside the store (STORE/audit), chosen by the
// caller of [Open]:
//
//	log.jsonl   the entries, one JSON object per line, oldest first
//	head.json   {"seq":N,"hash":"<hex SHA-256 of line N>"}: the newest entry
//	lock        an empty file; writers hold flock(LOCK_EX) on it
//
// Files are created 0600 and the directory 0700. Several processes (the
// server and CLI commands) may use the same directory at once: every append
// is a read-modify-write done while holding the lock, so no entry is lost and
// the chain never forks. In a read-only directory (a store on read-only
// media) nothing is created: readers take a shared lock on the lock file if
// there is one, no lock if there is none, and every write fails with
// ErrReadOnly.
//
// # Line format
//
// Each line is the encoding/json encoding of an [Entry] followed by "\n":
//
//	{"seq":1,"time":"2025-01-02T03:04:05.123456789Z","actor":"token:ci",
//	 "action":"import","target":"bundle-2025-01.tar.zst","result":"ok",
//	 "detail":{"modules":"42"},"prev":"0000…0000"}
//
// (shown folded; a real line has no newline inside it). The rules:
//
//   - seq is 1 on the first line and grows by exactly one per line.
//   - prev is the lower-case hex SHA-256 of the previous line's exact bytes,
//     without its terminating newline; the first line's prev is [Genesis]
//     (64 zeros).
//   - every line, the last included, ends in "\n"; a line is at most
//     [MaxLineSize] bytes.
//   - time is UTC; detail is optional; unknown fields are rejected.
//
// A line's hash is over its bytes as written, so the log must never be
// re-encoded: [Log.Append] only ever appends one line with O_APPEND and
// fsyncs it before returning, and never rewrites the file. (The one
// exception is a torn last line; see below.)
//
// # Write-ahead: intent, then outcome
//
// Every state-changing operation in modferry (import, publish, delete,
// token add and revoke, from the command line or over HTTP) writes two
// entries. [Log.Begin] writes the intent, with result "pending", before
// anything changes; if it fails, the operation is not carried out (over
// HTTP: 507 when the disk is full, 503 when the store is read-only).
// [Intent.Finish] then writes the outcome: the same actor, action and
// target, result "ok", "denied" or "error", and detail "intent" holding the
// intent's seq:
//
//	{"seq":7,...,"action":"publish","target":"corp.example/lib@v1.4.0","result":"pending","detail":{"via":"api"},...}
//	{"seq":8,...,"action":"publish","target":"corp.example/lib@v1.4.0","result":"ok","detail":{"intent":"7","h1":"h1:…","via":"api"},...}
//
// Begin refuses unless the file system has room for the intent, for
// [OutcomeRoom] per intent open in the process, and for the head file, and
// it allocates the outcome's room to the log file beyond its end
// (fallocate with FALLOC_FL_KEEP_SIZE, on Linux), so that an operation
// that fills the disk can still record its outcome. If the outcome cannot
// be written all the same, Finish returns an [*UnconfirmedError] (callers
// report that the change was made but its outcome is not recorded) and the
// Log keeps the entry in memory, writing it before its next entry (a
// server's next change, or its periodic flush). [Unconfirmed] lists the
// intents whose outcome no entry records.
//
// Entries that are not changes (server.start, auth.failure) may be kept
// the same way with [Log.Queue] while the log cannot take them; a queued
// entry carries detail "audit.delayed" = "true", and its time is when it
// happened, not when it was written.
//
// # Torn last lines
//
// A crash, or a full disk, in the middle of an append can leave a last
// line without its newline. That append never returned, so its entry was
// never acknowledged: it is torn, not tampered with. [Verify] reports it
// as a [*TornError] (and [Read] ignores it). The next append cuts it off,
// but only if the complete lines before it agree with the head file
// (verified in full if the head lags behind them), and records the cut as
// an entry of its own, in the chain:
//
//	{"seq":12,...,"actor":"audit","action":"audit.recover","result":"ok",
//	 "detail":{"reason":"incomplete last line cut off: …","tornBytes":"23",
//	 "tornSHA256":"<hex SHA-256 of the removed bytes>","tornStart":"<their first 128 bytes>"},...}
//
// An audit.recover entry with result "error" and detail "dropped" records
// queued entries lost because the queue was full.
//
// # What can and cannot be detected
//
// [Verify] reads a log and reports the first entry that breaks the chain as
// a [*ChainError]. Against someone who edits the file without recomputing
// the hashes of everything after their change, it detects:
//
//   - an edited entry (any byte of any line but the last),
//   - a removed entry (other than at the end), an inserted entry, and
//     entries swapped or reordered,
//   - truncation in the middle of a line, and a last line without "\n".
//
// The chain alone cannot see two things: a change to the LAST line (no line
// after it records its hash) and the removal of the last lines (what remains
// is a valid, shorter chain). The head file covers both: [Log.Append]
// updates it after every append (if the disk is full it may lag; the next
// append catches up), [Log.Verify] and [VerifyHead] check that
// the log still holds entry head.seq with hash head.hash, and Append refuses
// to extend a log that is behind its head, so it cannot paper over a
// truncation by appending to it.
//
// What nothing local can detect is someone with write access to the whole
// directory (root, or the service account) rewriting the log consistently:
// recomputing every hash after their change and writing a matching head
// (or deleting the head file, which Append then recreates). Catching that
// needs an anchor outside their reach. [Log.Head] returns a [Head] whose
// String form ("SEQ:HASH") an operator can write down elsewhere —
// a ticket, a paper log book, another system's audit trail — and later
// pass, through [ParseHead], to [VerifyHead]: every entry up to that seq is
// then proven unchanged.
//
// # Reading
//
// [Read] with a [Filter] selects entries for display (`modferry audit
// show`); it parses but does not verify. Use [Verify] for that.
package audit
