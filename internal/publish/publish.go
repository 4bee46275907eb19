package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// An ExistsError reports that a version cannot be published because the
// store has (or had) it. It matches fs.ErrExist.
type ExistsError struct {
	Version module.Version
	// Deleted: the version was deleted; its name stays taken.
	Deleted bool
	// Partial: some files of the version exist but not its .info — a
	// go.mod-only version from an import, a publish in progress, or one
	// that was interrupted.
	Partial bool
	// Claimed, when set, is the publish that claims the version (its
	// intent): one in progress, or one interrupted that is not yet known
	// to be gone.
	Claimed *Claim
}

// A Claim describes the publish that holds a version.
type Claim struct {
	Host    string
	PID     int
	Started time.Time
}

func (e *ExistsError) Error() string {
	if c := e.Claimed; c != nil {
		return fmt.Sprintf("%s is being published (by process %d on %s since %s); if that publish was interrupted, the version is released once its process is gone (on that host) or %s after it started (from any other host): publish it again then",
			e.Version, c.PID, c.Host, c.Started.UTC().Format(time.RFC3339), MaxPublishTime)
	}
	what := "already exists"
	switch {
	case e.Deleted:
		what = "was deleted and its version cannot be reused"
	case e.Partial:
		what = "already exists in part (a go.mod-only import, or a publish in progress or interrupted)"
	}
	return fmt.Sprintf("%s %s; versions are immutable, publish a new version", e.Version, what)
}

// Is makes an ExistsError match fs.ErrExist.
func (e *ExistsError) Is(target error) bool { return target == fs.ErrExist }

// Publish writes m into the store behind repo unless the version exists
// there in any form, and rewrites the module's list file. See the package
// documentation for the order of writes; the version is visible once
// Publish returns nil. An earlier publish of the same version that was
// interrupted (its intent is stale, see Recover) is rolled back first.
// The commit and the list are written under the store's import lock
// (see LockWait).
func Publish(ctx context.Context, repo *modules.Repo, m *Module) (err error) {
	v := m.Version
	intent, err := modfiles.PendingName(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := recoverUnderLock(ctx, repo, v, intent); err != nil {
		return err
	}
	// A publish in progress (its intent is still there: not stale).
	if c := readClaim(ctx, repo.Store, intent); c != nil {
		return &ExistsError{Version: v, Partial: true, Claimed: c}
	}
	if err := exists(ctx, repo.Store, v); err != nil {
		return err
	}
	// The intent claims the version: a concurrent publisher fails here.
	rec, _ := json.Marshal(newIntent(m.AuditIntent))
	if err := repo.Store.Create(ctx, intent, bytes.NewReader(rec)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &ExistsError{Version: v, Partial: true, Claimed: readClaim(ctx, repo.Store, intent)}
		}
		return fmt.Errorf("claiming %s: %w", v, err)
	}
	live.Store(v, true)
	defer live.Delete(v)
	var created []string
	defer func() {
		if err != nil {
			// Not committed: remove what this call wrote, newest first,
			// then the intent.
			bg := context.WithoutCancel(ctx)
			for i := len(created) - 1; i >= 0; i-- {
				repo.Store.Delete(bg, created[i])
			}
			repo.Store.Delete(bg, intent)
		}
	}()
	// An import may have added the version between the check and the claim.
	if err := exists(ctx, repo.Store, v); err != nil {
		return err
	}
	create := func(k modfiles.Kind, r io.Reader) error {
		name, err := modfiles.Name(v, k)
		if err != nil {
			return err
		}
		if err := repo.Store.Create(ctx, name, r); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &ExistsError{Version: v, Partial: true}
			}
			return fmt.Errorf("writing %s: %w", name, err)
		}
		created = append(created, name)
		return nil
	}
	zf, err := os.Open(m.ZipPath)
	if err != nil {
		return err
	}
	defer zf.Close()
	content := map[modfiles.Kind]io.Reader{
		modfiles.Mod:     bytes.NewReader(m.Mod),
		modfiles.Zip:     zf,
		modfiles.ZipHash: strings.NewReader(m.Hash),
		modfiles.Info:    bytes.NewReader(m.Info()),
	}
	for _, k := range modfiles.CommitOrder(true) {
		if k == modfiles.Info {
			if testHookBeforeCommit != nil {
				testHookBeforeCommit()
			}
			// The commit and the list under the store's import lock.
			held, err := lock(ctx, repo.Store, "publishing "+v.String())
			if err != nil {
				return err
			}
			defer held.Unlock()
			if err := held.Check(); err != nil {
				return fmt.Errorf("publishing %s: %w", v, err)
			}
			// A delete that ran since the checks (it takes the lock
			// too) removed what this call wrote: the version stays
			// deleted.
			if g, err := repo.IsGone(ctx, v); err != nil {
				return err
			} else if g != nil {
				created = nil // the delete removed them
				return &ExistsError{Version: v, Deleted: true}
			}
		}
		if err := create(k, content[k]); err != nil {
			if errors.Is(err, fs.ErrExist) {
				// Another writer (an import, which goes ahead only if
				// the go.mod this call wrote equals its own) wrote
				// the version since the check above, replacing the
				// files this call wrote: they are no longer this
				// call's to remove.
				created = nil
			}
			return err
		}
	}
	// The .info committed the version; removing the intent then lets the
	// .mod and .zip be served.
	created = nil
	if err := repo.Store.Delete(ctx, intent); err != nil {
		return fmt.Errorf("%s is published, but removing its publish intent failed (the next start-up finishes it): %w", v, err)
	}
	if err := repo.WriteList(ctx, v.Path); err != nil {
		return fmt.Errorf("%s is published, but rewriting its list file failed: %w", v, err)
	}
	if err := modules.StampAddition(ctx, repo.Store, "publish "+v.String()); err != nil {
		return fmt.Errorf("%s is published, but %w", v, err)
	}
	return nil
}

// testHookBeforeCommit, if set, runs just before the .info is written.
var testHookBeforeCommit func()

// readClaim reads the intent named name, or returns nil.
func readClaim(ctx context.Context, st store.Store, name string) *Claim {
	b, err := store.ReadAll(ctx, st, name)
	if err != nil {
		return nil
	}
	var in intent
	if json.Unmarshal(b, &in) != nil || in.Host == "" {
		return nil
	}
	return &Claim{Host: in.Host, PID: in.PID, Started: in.Started}
}

// exists returns an *ExistsError if the store holds any file of v, or its
// deletion record.
func exists(ctx context.Context, st store.Store, v module.Version) error {
	for _, k := range []modfiles.Kind{modfiles.Gone, modfiles.Info, modfiles.Mod, modfiles.Zip, modfiles.ZipHash} {
		name, err := modfiles.Name(v, k)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		ok, err := store.Exists(ctx, st, name)
		if err != nil {
			return err
		}
		if ok {
			return &ExistsError{Version: v, Deleted: k == modfiles.Gone, Partial: k != modfiles.Gone && k != modfiles.Info}
		}
	}
	return nil
}

// ErrNoReason is returned by Delete when no reason is given.
var ErrNoReason = errors.New("a reason is required")

// Delete deletes version v from the store behind repo, recording who did it
// and why (a reason is required), and rewrites the module's list file. The
// version answers 410 Gone from then on and can never be published again.
// It holds the store's import lock while it writes (see LockWait).
func Delete(ctx context.Context, repo *modules.Repo, v module.Version, rec modules.GoneRecord) error {
	if strings.TrimSpace(rec.Reason) == "" {
		return fmt.Errorf("deleting %s: %w", v, ErrNoReason)
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	held, err := lock(ctx, repo.Store, "deleting "+v.String())
	if err != nil {
		return err
	}
	defer held.Unlock()
	fr := fenced(repo, held, "the delete of "+v.String()+" stopped there: run it again")
	// A publish of v in progress: deleting its files under it would let
	// it commit a version whose files are gone. One that was interrupted
	// is rolled back first.
	if _, err := recoverOne(ctx, fr, v, time.Now()); err != nil {
		return err
	}
	if name, err := modfiles.PendingName(v); err == nil {
		if busy, err := store.Exists(ctx, fr.Store, name); err != nil {
			return err
		} else if busy {
			return fmt.Errorf("deleting %s: %w: it is being published; retry once the publish has finished", v, ErrBusy)
		}
	}
	return fr.Delete(ctx, v, rec)
}

// ErrBusy reports a version that a publish in progress holds.
var ErrBusy = errors.New("version busy")

// recoverUnderLock rolls back or finishes an interrupted publish of v
// (its intent, named intent, is stale) under the store's import lock, as
// Recover does: two publishers retrying the same version must not both
// roll back, the slower one removing what the faster one wrote anew.
func recoverUnderLock(ctx context.Context, repo *modules.Repo, v module.Version, intent string) error {
	if ok, err := store.Exists(ctx, repo.Store, intent); err != nil || !ok {
		return err
	}
	held, err := lock(ctx, repo.Store, "recovering the interrupted publish of "+v.String())
	if err != nil {
		return err
	}
	defer held.Unlock()
	_, err = recoverOne(ctx, fenced(repo, held, "the recovery of "+v.String()+" stopped there: publish it again"), v, time.Now())
	return err
}

// fenced returns repo on store.Fence(repo.Store, held, stopped): a
// writer whose lease (S3) was lost stops before its next write, so that
// it never rewrites a version list from a view of the store that the
// lock's new holder is changing.
func fenced(repo *modules.Repo, held *store.Held, stopped string) *modules.Repo {
	r := *repo
	r.Store = store.Fence(repo.Store, held, stopped)
	return &r
}

// LockWait is how long Publish, Delete and Recover wait for the store's
// import lock (store.LockImport) before they give up with an error
// matching store.ErrLockBusy, which the server answers 503 with
// Retry-After: LockRetryAfter. An import holds the lock only while it
// commits (it verifies the bundle before), a publish or delete while it
// writes a version's files and its list.
const LockWait = 10 * time.Second

// LockRetryAfter is the Retry-After header value (seconds) of a 503
// answered because of store.ErrLockBusy.
const LockRetryAfter = "30"

// lock takes the store's import lock for what (such as "publishing
// M@V"), waiting at most LockWait: every writer of a module's version
// list holds it (see store.ImportLockName), so that none rewrites the
// list from a view of the store that another is changing, and loses
// versions.
func lock(ctx context.Context, st store.Store, what string) (*store.Held, error) {
	held, err := store.LockImport(ctx, st, LockWait)
	if errors.Is(err, store.ErrLockBusy) {
		return nil, fmt.Errorf("%s: %w; retry once it has finished", what, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return held, nil
}
