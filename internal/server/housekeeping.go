package server

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/publish"
	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
)

// liveOps records when the operations running in this process began, so
// that cleaning never touches what one of them may still use.
type liveOps struct {
	mu   sync.Mutex
	next int
	ops  map[int]time.Time
}

// begin records an operation starting now and returns its end.
func (l *liveOps) begin() (end func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ops == nil {
		l.ops = map[int]time.Time{}
	}
	id := l.next
	l.next++
	// A second of slack for file systems with coarse timestamps.
	l.ops[id] = time.Now().Add(-time.Second)
	return func() {
		l.mu.Lock()
		delete(l.ops, id)
		l.mu.Unlock()
	}
}

// oldest returns the start of the oldest live operation, or now.
func (l *liveOps) oldest() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := time.Now().Add(-time.Second)
	for _, s := range l.ops {
		if s.Before(t) {
			t = s
		}
	}
	return t
}

// tempFileMargin is the least age of a store temporary file Housekeep
// removes.
const tempFileMargin = 15 * time.Minute

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Housekeep finishes or rolls back publishes that a crash interrupted
// (publish.Recover) and removes what crashed operations left behind:
// upload files in STORE/uploads, import stages in STORE/staging, the
// store's own temporary files (.tmp-*), the publish uploads of a store
// kept elsewhere (in TempDir, or /tmp/modferry-publish-*.zip), and the
// /tmp/modferry-upload-*.zip files of older versions. It removes only what is older than every
// operation running in this process and held by no other process (package
// scratch), so it is safe while the server works; serve runs it at
// start-up and then periodically.
func (s *Server) Housekeep(ctx context.Context) error {
	cutoff := s.live.oldest()
	err := s.recoverPublishes(ctx)
	if cerr := s.cleanLeftovers(cutoff); cerr != nil {
		err = cerr
	}
	return err
}

// StartHousekeeping is what serve runs at start-up: it recovers
// interrupted publishes before it returns (that reads only the records
// of publishes in progress), then, in the background, cleans crash
// leftovers and runs Housekeep every interval until ctx is done. Finding
// the store's temporary files is a walk of the whole store (they sit
// beside their targets), seconds on a store of 100,000 module versions;
// the server must not wait for it to serve.
func (s *Server) StartHousekeeping(ctx context.Context, every time.Duration) {
	cutoff := s.live.oldest()
	s.recoverPublishes(ctx)
	go func() {
		s.cleanLeftovers(cutoff)
		s.RunHousekeeping(ctx, every)
	}()
}

// recoverPublishes finishes or rolls back the publishes a crash
// interrupted (publish.Recover).
func (s *Server) recoverPublishes(ctx context.Context) error {
	done, err := publish.Recover(ctx, s.repo)
	for _, r := range done {
		// The audit log records the outcome the interrupted publish
		// could not: its intent stays unconfirmed otherwise.
		e := audit.Entry{Actor: "server", Action: audit.ActionPublish, Target: r.Version.String(), Result: audit.ResultError,
			Detail: map[string]string{"recovered": "the publish was interrupted before its commit; housekeeping rolled it back"}}
		if r.AuditIntent > 0 {
			e.Detail["intent"] = strconv.FormatInt(r.AuditIntent, 10)
		}
		if r.Committed {
			e.Result = audit.ResultOK
			e.Detail["recovered"] = "the publish was interrupted after its commit; housekeeping finished it"
			s.log.Warn("finished a publish that was interrupted after its commit", "module", r.Version.String())
		} else {
			s.proxy.Forget(r.Version)
			s.log.Warn("rolled back a publish that was interrupted", "module", r.Version.String())
		}
		if s.audit != nil {
			if _, aerr := s.audit.Append(ctx, e); aerr != nil {
				s.audit.Queue(e) // written at the next chance
			}
		}
	}
	if err != nil {
		s.log.Error("recovering interrupted publishes", "err", err)
	}
	return err
}

// cleanLeftovers removes what crashed operations left behind, older than
// cutoff (see Housekeep).
func (s *Server) cleanLeftovers(cutoff time.Time) error {
	var err error
	var files int
	var freed int64
	clean := func(dir, pattern string) {
		removed, n, err := scratch.Clean(dir, pattern, cutoff)
		files += len(removed)
		freed += n
		if err != nil {
			s.log.Error("cleaning crash leftovers", "dir", dir, "err", err)
		}
	}
	local, isLocal := s.store.(store.Local)
	if isLocal {
		clean(filepath.Join(local.Root(), UploadsDir), "*")
	}
	clean(importer.StagingPath(s.store, s.importScratch()), "*")
	if tc, ok := s.store.(store.TempCleaner); ok {
		// The store's temporary files are locked only while being
		// written; another process may hold closed ones for a moment
		// before renaming them (store.Disk.PutBatch), so those get a
		// margin besides the cutoff.
		n, b, cerr := tc.CleanTemp("", minTime(cutoff, time.Now().Add(-tempFileMargin)))
		files += n
		freed += b
		if cerr != nil {
			s.log.Error("cleaning the store's temporary files", "err", cerr)
			err = cerr
		}
	}
	// Publish uploads of a store kept elsewhere go to the server's
	// TempDir, or to the system's temporary directory (uploadDir).
	patterns := []string{"modferry-publish-*.zip", "modferry-canonical-*.zip"}
	switch {
	case s.tempDir != "":
		// A directory of ours: also the names older versions used.
		for _, pattern := range append(patterns, "publish-*.zip", "canonical-*.zip") {
			clean(s.tempDir, pattern)
		}
	case !isLocal:
		for _, pattern := range patterns {
			clean(os.TempDir(), pattern)
		}
	}
	clean(os.TempDir(), "modferry-upload-*.zip")
	clean(os.TempDir(), "modferry-fill-*.zip") // fill-through downloads
	if files > 0 {
		s.log.Info("removed crash leftovers", "files", files, "bytes", freed)
	}
	return err
}

// RunHousekeeping runs Housekeep every interval until ctx is done.
func (s *Server) RunHousekeeping(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Housekeep(ctx)
		}
	}
}

// importScratch returns the importer options that say where bundle
// uploads stage when the store is not on the local filesystem.
func (s *Server) importScratch() importer.Options {
	return importer.Options{ScratchDir: s.tempDir}
}
