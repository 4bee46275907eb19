package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// An Index is what the readers of a store's audit log look up in it: the
// versions published (a publish that succeeded) and the signers of each
// imported bundle (the first import of it that succeeded).
type Index struct {
	// Publishes are keyed by "path@version".
	Publishes map[string]Publish `json:"publishes"`
	// Signers are keyed by the bundle's digest: "kind:ID" of each
	// signature the import verified.
	Signers map[string][]string `json:"signers"`
	// Unreadable counts the lines that name a publish or an import but
	// are not entries: a reader that removes what no publish keeps
	// (prune) refuses to trust an index with any.
	Unreadable int `json:"unreadable,omitempty"`
	// Unconfirmed are the publishes begun (an intent, ResultPending)
	// whose outcome the log does not record, keyed by the intent's seq: a
	// publish whose process died, or whose outcome could not be written,
	// after its version was committed, or while it was being committed.
	// A reader that removes what no publish keeps (prune) keeps these
	// versions too.
	Unconfirmed map[string]PendingPublish `json:"unconfirmed,omitempty"`
	// closed are the intents whose outcome this index saw without their
	// intent (read before), for add.
	closed map[string]bool
}

// A PendingPublish is a publish begun, its outcome not (yet) recorded.
type PendingPublish struct {
	Target string    `json:"target"` // path@version
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
}

// Publish is a successful publish.
type Publish struct {
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
}

// NewIndex returns an empty Index.
func NewIndex() Index {
	return Index{Publishes: map[string]Publish{}, Signers: map[string][]string{}, Unconfirmed: map[string]PendingPublish{}, closed: map[string]bool{}}
}

// Note adds what an entry line records to x. Lines that are not entries
// are skipped: judging the log is audit verify's job, not its readers'.
func (x *Index) Note(line []byte) { x.note("", line) }

// noteFile is Note for a line of the file form of a store's log, read
// beside its journal (Follower.NextForms): the two number their entries
// each from 1, so the file's intents are kept under other keys.
func (x *Index) noteFile(line []byte) { x.note("file:", line) }

// note is Note with the keys of intents prefixed by form.
func (x *Index) note(form string, line []byte) {
	// Most entries are neither; skip them without decoding.
	imp := bytes.Contains(line, []byte(`"`+ActionImport+`"`))
	if !imp && !bytes.Contains(line, []byte(`"`+ActionPublish+`"`)) {
		return
	}
	e, err := ParseLine(line)
	if err != nil {
		x.Unreadable++
		return
	}
	if e.Action == ActionPublish {
		if e.Result == ResultPending && strings.Contains(e.Target, "@") {
			x.Unconfirmed[form+strconv.FormatInt(e.Seq, 10)] = PendingPublish{Target: e.Target, Time: e.Time, Actor: e.Actor}
		} else if seq, ok := e.Detail["intent"]; ok {
			seq = form + seq
			if _, open := x.Unconfirmed[seq]; open {
				delete(x.Unconfirmed, seq)
			} else {
				x.closed[seq] = true
			}
		}
	}
	if e.Result != ResultOK {
		return
	}
	switch e.Action {
	case ActionPublish:
		if strings.Contains(e.Target, "@") {
			x.Publishes[e.Target] = Publish{Time: e.Time, Actor: e.Actor}
		}
	case ActionImport:
		// The outcome of an import has the bundle's "digest" and the
		// verified signers as "key" ("kind:ID" joined with commas).
		d, key := e.Detail["digest"], e.Detail["key"]
		if d == "" || key == "" {
			return
		}
		if _, ok := x.Signers[d]; ok {
			return // the first import's signers; later ones were no-ops
		}
		ks := strings.Split(key, ",")
		for i := range ks {
			ks[i] = strings.TrimSpace(ks[i])
		}
		x.Signers[d] = ks
	}
}

// add adds y's entries to x, keeping x's signers of a digest both have.
func (x *Index) add(y Index) {
	x.Unreadable += y.Unreadable
	for k, p := range y.Publishes {
		x.Publishes[k] = p
	}
	for d, ks := range y.Signers {
		if _, ok := x.Signers[d]; !ok {
			x.Signers[d] = ks
		}
	}
	if x.Unconfirmed == nil {
		x.Unconfirmed = map[string]PendingPublish{}
	}
	if x.closed == nil {
		x.closed = map[string]bool{}
	}
	for seq := range y.closed {
		if _, open := x.Unconfirmed[seq]; open {
			delete(x.Unconfirmed, seq)
		} else {
			x.closed[seq] = true
		}
	}
	for seq, in := range y.Unconfirmed {
		x.Unconfirmed[seq] = in
	}
}

// IndexCheckpoint is the store object where an IndexReader keeps the index
// of a journal's entries up to one of them, so that the next reader (a
// server that starts) reads only the entries after it.
const IndexCheckpoint = "state/audit-index.json"

// checkpointEvery is how many new journal entries an IndexReader reads
// before it writes a checkpoint again.
const checkpointEvery = 1000

// checkpointFormat is the checkpoint's format version: 2 since the index
// holds unconfirmed publishes (a checkpoint of version 1 is ignored, and
// the journal read again from its start).
const checkpointFormat = 2

// checkpoint is the content of IndexCheckpoint.
type checkpoint struct {
	FormatVersion int    `json:"formatVersion"`
	Seq           int64  `json:"seq"`  // entries 1..Seq are in Index
	Hash          string `json:"hash"` // hashLine of entry Seq
	Index         Index  `json:"index"`
}

// An IndexReader keeps the Index of a store's audit log up to date,
// reading only what was appended since its last Update (a Follower).
//
// A journal (the log of a store that is not local) is read one object per
// entry: a round trip each, so ~1 ms per entry on an object store, and a
// minute and a half for 100,000 entries. An IndexReader with Checkpoints
// set therefore starts from IndexCheckpoint if the store has one whose
// last entry is still in the journal with the same hash, and writes one
// when it has read checkpointEvery entries past the last. The checkpoint
// is a cache derived from the journal, as the catalog's licence caches are
// derived from the zips: anyone who may rewrite it may rewrite the
// journal too. A reader that must not trust a cache (prune, which
// removes what no publish keeps) leaves Checkpoints unset and reads the
// journal whole, strictly (NewStrictIndexReader).
type IndexReader struct {
	// Checkpoints: start from IndexCheckpoint, and write it.
	Checkpoints bool
	// ReadOnly: with Checkpoints, read IndexCheckpoint but never write it.
	ReadOnly bool

	st      store.Store
	fl      *Follower
	x       Index
	started bool
	saved   int64 // the seq of the last checkpoint read or written
}

// NewIndexReader returns an IndexReader of the audit log of st.
func NewIndexReader(st store.Store) *IndexReader {
	return &IndexReader{st: st, fl: NewFollower(st), x: NewIndex()}
}

// NewStrictIndexReader returns an IndexReader of the audit log of st
// for a reader that must see all of it (prune): a log it may not read,
// or a line too long to be an entry, is an error (Follower.Strict), and
// no checkpoint is used.
func NewStrictIndexReader(st store.Store) *IndexReader {
	r := NewIndexReader(st)
	r.fl.Strict = true
	return r
}

// Update reads the entries appended since the last call and returns what
// they added to the index. If the log was read again from its start
// (restarted: see Follower.Next), added is the whole index and the
// caller drops what earlier calls returned. On error nothing changed.
func (r *IndexReader) Update(ctx context.Context) (added Index, restarted bool, err error) {
	added = NewIndex()
	if !r.started && r.Checkpoints {
		if err := r.resume(ctx); err != nil {
			return added, false, err
		}
		added.add(r.x)
	}
	fresh := NewIndex()
	restarted, err = r.fl.NextForms(ctx, fresh.noteFile, fresh.Note)
	if err != nil {
		// Not started: what a checkpoint said was not handed out, and
		// the next call reads it again.
		return NewIndex(), false, err
	}
	r.started = true
	if restarted {
		r.x = fresh
		return fresh, true, nil
	}
	r.x.add(fresh)
	added.add(fresh)
	if r.Checkpoints && !r.ReadOnly && r.fl.seq-r.saved >= checkpointEvery {
		// A cache: a reader that cannot write it reads further next
		// time, which is all it costs.
		_ = r.save(ctx)
	}
	return added, false, nil
}

// resume starts the Follower at IndexCheckpoint's entry if the journal
// still has that entry with the same hash; a missing, unreadable or
// stale checkpoint is ignored (the journal is read from its start).
func (r *IndexReader) resume(ctx context.Context) error {
	b, err := store.ReadAll(ctx, r.st, IndexCheckpoint)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil
	}
	if err != nil {
		return err
	}
	var c checkpoint
	if json.Unmarshal(b, &c) != nil || c.FormatVersion != checkpointFormat || c.Seq < 1 || c.Index.Publishes == nil || c.Index.Signers == nil {
		return nil
	}
	if c.Index.Unconfirmed == nil {
		c.Index.Unconfirmed = map[string]PendingPublish{}
	}
	c.Index.closed = map[string]bool{}
	line, err := JournalIn(r.st).Entry(ctx, c.Seq)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if hashLine(line) != c.Hash {
		return nil
	}
	r.x, r.saved = c.Index, c.Seq
	r.fl.seq, r.fl.lastHash = c.Seq, c.Hash
	return nil
}

// save writes IndexCheckpoint at the Follower's last journal entry.
func (r *IndexReader) save(ctx context.Context) error {
	b, err := json.Marshal(checkpoint{FormatVersion: checkpointFormat, Seq: r.fl.seq, Hash: r.fl.lastHash, Index: r.x})
	if err != nil {
		return err
	}
	if err := r.st.Put(ctx, IndexCheckpoint, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("audit: writing %s: %w", IndexCheckpoint, err)
	}
	r.saved = r.fl.seq
	return nil
}
