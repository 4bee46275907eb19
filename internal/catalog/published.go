package catalog

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/audit"
)

// publishRecord is a publish the audit log records.
type publishRecord struct {
	time  time.Time
	actor string
}

// refreshPublished reads the part of the audit log appended since the
// last call and notes the versions published and the signers of imports.
// The log is append-only, so only what is new is read, whether the store
// keeps it as one file or as a journal of one object per entry
// (audit.Follower). Lines that are not entries are skipped: the audit log
// is not this package's to judge (audit verify).
func (c *Catalog) refreshPublished(ctx context.Context) error {
	return c.readingAudit.do(ctx, c.readPublished)
}

// readPublished is a pass of refreshPublished (never two at once).
func (c *Catalog) readPublished(ctx context.Context) error {
	found := map[versionKey]publishRecord{}
	signers := map[string][]string{}
	restarted, err := c.audit.Next(ctx, func(line []byte) { notePublish(line, found, signers) })
	if err != nil {
		return err
	}
	c.mu.Lock()
	if restarted {
		c.published = map[versionKey]publishRecord{}
		c.signers = map[string][]string{}
	}
	for k, r := range found {
		c.published[k] = r
	}
	for d, ks := range signers {
		if _, ok := c.signers[d]; !ok {
			c.signers[d] = ks
		}
	}
	c.mu.Unlock()
	return nil
}

// notePublish adds a log line's successful publish to found, or its
// successful import's signers to signers.
func notePublish(line []byte, found map[versionKey]publishRecord, signers map[string][]string) {
	if bytes.Contains(line, []byte(`"`+audit.ActionImport+`"`)) {
		noteSigners(line, signers)
		return
	}
	if !bytes.Contains(line, []byte(`"`+audit.ActionPublish+`"`)) {
		return
	}
	e, err := audit.ParseLine(line)
	if err != nil || e.Action != audit.ActionPublish || e.Result != audit.ResultOK {
		return
	}
	path, version, ok := strings.Cut(e.Target, "@")
	if !ok {
		return
	}
	found[versionKey{intern(path), intern(version)}] = publishRecord{time: e.Time, actor: e.Actor}
}

// noteSigners notes the signers of an import the log line records as
// done: its outcome entry has the bundle's "digest" and the verified
// signers as "key" ("kind:ID" joined with commas).
func noteSigners(line []byte, signers map[string][]string) {
	e, err := audit.ParseLine(line)
	if err != nil || e.Action != audit.ActionImport || e.Result != audit.ResultOK {
		return
	}
	d, key := e.Detail["digest"], e.Detail["key"]
	if d == "" || key == "" {
		return
	}
	if _, ok := signers[d]; ok {
		return // the first import's signers; later ones were no-ops
	}
	ks := strings.Split(key, ",")
	for i := range ks {
		ks[i] = strings.TrimSpace(ks[i])
	}
	signers[d] = ks
}
