package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// An intent is the record of a publish in progress (modfiles.PendingName).
type intent struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// AuditIntent: Module.AuditIntent.
	AuditIntent int64 `json:"auditIntent,omitempty"`
}

func newIntent(auditIntent int64) intent {
	host, _ := os.Hostname()
	return intent{Host: host, PID: os.Getpid(), Started: time.Now().UTC(), AuditIntent: auditIntent}
}

// live holds the versions this process is publishing now.
var live sync.Map // module.Version -> true

// MaxPublishTime is how long a publish may take before another host
// takes its intent for stale. On the publishing host, an intent is stale
// as soon as the process that wrote it is gone.
const MaxPublishTime = 6 * time.Hour

// stale reports whether the publish that wrote in is no longer running.
func (in intent) stale(v module.Version, now time.Time) bool {
	host, _ := os.Hostname()
	switch {
	case in.Host != host || in.PID <= 0:
		return now.Sub(in.Started) > MaxPublishTime
	case in.PID == os.Getpid():
		_, running := live.Load(v)
		return !running
	}
	if gone, known := processGone(in.PID); known {
		return gone
	}
	return now.Sub(in.Started) > MaxPublishTime
}

// A Recovery is an interrupted publish that Recover finished or rolled
// back.
type Recovery struct {
	Version module.Version
	// Committed: the publish had committed its version (its .info was
	// written), and Recover finished it; else Recover rolled it back.
	Committed bool
	// AuditIntent is the seq of the audit intent entry of the publish,
	// where it recorded one (Module.AuditIntent): the outcome to write
	// is that intent's.
	AuditIntent int64
}

// Recover finishes or rolls back every publish that was interrupted (a
// crash between its first write and its commit): a version whose .info
// exists was committed, and only its intent is removed; any other has the
// files the publish wrote removed, so that the version can be published
// again. Publishes still running are left alone. It returns what it did,
// for the audit log. It holds the store's import lock (see LockWait) only
// if there is an intent to look at.
func Recover(ctx context.Context, repo *modules.Repo) ([]Recovery, error) {
	var pending []module.Version
	var walk func(dir string) error
	walk = func(dir string) error {
		names, err := repo.Store.List(ctx, dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			if sub, ok := strings.CutSuffix(n, "/"); ok {
				if err := walk(dir + "/" + sub); err != nil {
					return err
				}
				continue
			}
			v, err := modfiles.ParsePendingName(dir + "/" + n)
			if err != nil {
				continue
			}
			pending = append(pending, v)
		}
		return nil
	}
	if err := walk(modfiles.PendingRoot); err != nil || len(pending) == 0 {
		return nil, err
	}
	held, err := lock(ctx, repo.Store, "recovering interrupted publishes")
	if err != nil {
		return nil, err
	}
	defer held.Unlock()
	repo = fenced(repo, held, "the recovery of interrupted publishes stopped there; it runs again at a server's next housekeeping, or at the next publish of the version")
	var done []Recovery
	for _, v := range pending {
		r, err := recoverOne(ctx, repo, v, time.Now())
		if err != nil {
			return done, err
		}
		if r != nil {
			done = append(done, *r)
		}
	}
	return done, nil
}

// recoverOne finishes or rolls back an interrupted publish of v, if there
// is one, and says which it did (nil: none).
func recoverOne(ctx context.Context, repo *modules.Repo, v module.Version, now time.Time) (*Recovery, error) {
	name, err := modfiles.PendingName(v)
	if err != nil {
		return nil, err
	}
	b, err := store.ReadAll(ctx, repo.Store, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var in intent
	if json.Unmarshal(b, &in) == nil && !in.stale(v, now) {
		return nil, nil // running; Publish then reports the version as taken
	}
	info, _ := modfiles.Name(v, modfiles.Info)
	committed, err := store.Exists(ctx, repo.Store, info)
	if err != nil {
		return nil, err
	}
	if !committed {
		// Roll back, .mod last: until the intent goes, nothing is served.
		for _, k := range []modfiles.Kind{modfiles.Zip, modfiles.ZipHash, modfiles.Mod} {
			n, _ := modfiles.Name(v, k)
			if err := repo.Store.Delete(ctx, n); err != nil {
				return nil, fmt.Errorf("rolling back the interrupted publish of %s: %w", v, err)
			}
		}
	}
	if err := repo.Store.Delete(ctx, name); err != nil {
		return nil, fmt.Errorf("recovering the interrupted publish of %s: %w", v, err)
	}
	if committed {
		if err := repo.WriteList(ctx, v.Path); err != nil {
			return nil, err
		}
		return &Recovery{Version: v, Committed: true, AuditIntent: in.AuditIntent}, modules.StampAddition(ctx, repo.Store, "publish "+v.String())
	}
	return &Recovery{Version: v, AuditIntent: in.AuditIntent}, nil
}
