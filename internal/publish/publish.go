package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/module"

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
}

func (e *ExistsError) Error() string {
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
// Publish returns nil.
func Publish(ctx context.Context, repo *modules.Repo, m *Module) (err error) {
	v := m.Version
	if err := exists(ctx, repo.Store, v); err != nil {
		return err
	}
	var created []string
	defer func() {
		if err != nil {
			// Not committed: remove what this call wrote, newest first.
			for i := len(created) - 1; i >= 0; i-- {
				repo.Store.Delete(context.WithoutCancel(ctx), created[i])
			}
		}
	}()
	create := func(k modules.Kind, r io.Reader) error {
		name, err := modules.Name(v, k)
		if err != nil {
			return err
		}
		if err := repo.Store.Create(ctx, name, r); err != nil {
			if errors.Is(err, fs.ErrExist) {
				// Someone else got there first, between the check and now.
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
	// The .mod claims the version; the .info commits it.
	if err := create(modules.Mod, bytes.NewReader(m.Mod)); err != nil {
		return err
	}
	if err := create(modules.Zip, zf); err != nil {
		return err
	}
	if err := create(modules.ZipHash, strings.NewReader(m.Hash)); err != nil {
		return err
	}
	if err := create(modules.Info, bytes.NewReader(m.Info())); err != nil {
		return err
	}
	created = nil // committed
	if err := repo.WriteList(ctx, v.Path); err != nil {
		return fmt.Errorf("%s is published, but rewriting its list file failed: %w", v, err)
	}
	return nil
}

// exists returns an *ExistsError if the store holds any file of v, or its
// deletion record.
func exists(ctx context.Context, st store.Store, v module.Version) error {
	for _, k := range []modules.Kind{modules.Gone, modules.Info, modules.Mod, modules.Zip} {
		name, err := modules.Name(v, k)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		ok, err := store.Exists(ctx, st, name)
		if err != nil {
			return err
		}
		if ok {
			return &ExistsError{Version: v, Deleted: k == modules.Gone, Partial: k == modules.Mod || k == modules.Zip}
		}
	}
	return nil
}

// ErrNoReason is returned by Delete when no reason is given.
var ErrNoReason = errors.New("a reason is required")

// Delete deletes version v from the store behind repo, recording who did it
// and why (a reason is required), and rewrites the module's list file. The
// version answers 410 Gone from then on and can never be published again.
func Delete(ctx context.Context, repo *modules.Repo, v module.Version, rec modules.GoneRecord) error {
	if strings.TrimSpace(rec.Reason) == "" {
		return fmt.Errorf("deleting %s: %w", v, ErrNoReason)
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	return repo.Delete(ctx, v, rec)
}
