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
// the chain never forks.
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
// exception is a torn last line left by a crash in the middle of a write,
// which was never acknowledged; see [Log.Append].) Every state-changing
// operation in modferry writes exactly one entry before it reports success.
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
// updates it after every append, [Log.Verify] and [VerifyHead] check that
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
