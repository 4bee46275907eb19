package catalog

import (
	"context"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/store"
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
// (audit.IndexReader). Lines that are not entries are skipped: the audit
// log is not this package's to judge (audit verify).
func (c *Catalog) refreshPublished(ctx context.Context) error {
	return c.readingAudit.do(ctx, c.readPublished)
}

// readPublished is a pass of refreshPublished (never two at once).
func (c *Catalog) readPublished(ctx context.Context) error {
	c.audit.ReadOnly = c.ReadOnly
	added, restarted, err := c.audit.Update(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if restarted {
		c.published = map[versionKey]publishRecord{}
		c.signers = map[string][]string{}
	}
	for mv, p := range added.Publishes {
		path, version, _ := strings.Cut(mv, "@")
		c.published[versionKey{intern(path), intern(version)}] = publishRecord{time: p.Time, actor: p.Actor}
	}
	for d, ks := range added.Signers {
		if _, ok := c.signers[d]; !ok {
			c.signers[d] = ks
		}
	}
	return nil
}

// newAuditReader returns the reader of st's audit log the catalog keeps:
// a journal is read from its checkpoint (see audit.IndexReader), so that a
// server that starts does not read every entry of a long one.
func newAuditReader(st store.Store) *audit.IndexReader {
	r := audit.NewIndexReader(st)
	r.Checkpoints = true
	return r
}
