package proxy

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	"github.com/modferry/modferry/internal/modules"
)

// versionStater is the capability a store needs for the removal stamp: the
// version of an object without reading it (s3store: a HEAD).
type versionStater interface {
	StatVersion(ctx context.Context, name string) (string, error)
}

// removals watches the store's removal stamp (modules.RemovalStamp), which
// every deletion and prune rewrites once the deletion record is written
// and again once the files are gone. While it is unchanged, what the
// Handler confirmed with the store still holds: the .info, .mod and .zip
// of a version never change, and only a deletion removes them. Its
// generation grows by one each time the stamp is seen to change; it is
// looked at most once per interval (one request), by the first request
// that needs it, while the others wait for the answer.
type removals struct {
	store    versionStater
	interval time.Duration

	mu      sync.Mutex
	checked time.Time // when the last look began
	ok      bool      // the last look succeeded
	version string    // the stamp's version then ("" if absent)
	gen     uint64    // 1 at the first look, +1 at each change
}

// lookTimeout bounds one look at the stamp.
const lookTimeout = 10 * time.Second

// current returns the generation, as of a look that began at most one
// interval ago, or false if the store could not be asked: then nothing
// confirmed before may be trusted.
func (r *removals) current(ctx context.Context) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.checked) < r.interval {
		// A look that failed is not retried before the interval is
		// over either: while the store is down, requests do not queue
		// up behind one look after another.
		return r.gen, r.ok
	}
	// The look serves every request waiting here, not only the one whose
	// context it could use: it must not end when that client goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookTimeout)
	defer cancel()
	v, err := r.store.StatVersion(ctx, modules.RemovalStamp)
	if errors.Is(err, fs.ErrNotExist) {
		v, err = "", nil
	}
	if err != nil {
		r.ok, r.checked = false, now
		return 0, false
	}
	if !r.ok || r.gen == 0 || v != r.version {
		// After a failed look, a change may have gone unseen.
		r.gen++
	}
	r.version, r.checked, r.ok = v, now, true
	return r.gen, true
}
