package catalog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/audit"
)

// AuditLog is the store object of the audit log (package audit, in the
// store's "audit" directory), where publishes are recorded.
const AuditLog = "audit/" + audit.LogFile

// publishRecord is a publish the audit log records.
type publishRecord struct {
	time  time.Time
	actor string
}

// refreshPublished reads the part of the audit log appended since the
// last call and notes the versions published. The log is append-only, so
// only new bytes are read; a log shorter than what was read (cut after a
// torn line) is read again from the start. Lines that are not entries are
// skipped: the audit log is not this package's to judge (audit verify).
func (c *Catalog) refreshPublished(ctx context.Context) error {
	return c.readingAudit.do(ctx, c.readPublished)
}

// readPublished is a pass of refreshPublished (never two at once).
func (c *Catalog) readPublished(ctx context.Context) error {
	f, err := c.st.Open(ctx, AuditLog)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	c.mu.RLock()
	off := c.auditOff
	c.mu.RUnlock()
	if fi.Size() < off {
		off = 0
	}
	if fi.Size() == off {
		return nil
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	found := map[versionKey]publishRecord{}
	signers := map[string][]string{}
	buf := make([]byte, 0, 1<<20)
	chunk := make([]byte, 1<<20)
	for {
		n, err := f.Read(chunk)
		buf = append(buf, chunk[:n]...)
		// Complete lines only; an append in progress is read next time.
		if end := bytes.LastIndexByte(buf, '\n'); end >= 0 {
			notePublishes(buf[:end+1], found, signers)
			off += int64(end + 1)
			buf = append(buf[:0], buf[end+1:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(buf) > audit.MaxLineSize {
			return nil // not a log this version can read; try again later
		}
	}
	c.mu.Lock()
	if off < c.auditOff {
		c.published = map[versionKey]publishRecord{}
		c.signers = map[string][]string{}
	}
	c.auditOff = off
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

// notePublishes adds the successful publishes among complete log lines
// to found, and the signers of successful imports to signers.
func notePublishes(lines []byte, found map[versionKey]publishRecord, signers map[string][]string) {
	for line := range bytes.Lines(lines) {
		if bytes.Contains(line, []byte(`"`+audit.ActionImport+`"`)) {
			noteSigners(line, signers)
			continue
		}
		if !bytes.Contains(line, []byte(`"`+audit.ActionPublish+`"`)) {
			continue
		}
		es, err := audit.Read(bytes.NewReader(line), audit.Filter{Action: audit.ActionPublish})
		if err != nil || len(es) != 1 || es[0].Result != audit.ResultOK {
			continue
		}
		path, version, ok := strings.Cut(es[0].Target, "@")
		if !ok {
			continue
		}
		found[versionKey{intern(path), intern(version)}] = publishRecord{time: es[0].Time, actor: es[0].Actor}
	}
}

// noteSigners notes the signers of an import the log line records as
// done: its outcome entry has the bundle's "digest" and the verified
// signers as "key" ("kind:ID" joined with commas).
func noteSigners(line []byte, signers map[string][]string) {
	es, err := audit.Read(bytes.NewReader(line), audit.Filter{Action: audit.ActionImport})
	if err != nil || len(es) != 1 || es[0].Result != audit.ResultOK {
		return
	}
	d, key := es[0].Detail["digest"], es[0].Detail["key"]
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
