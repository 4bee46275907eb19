package fillthrough

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/singleflight"

	"github.com/modferry/modferry/internal/checksumdb"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/resolve"
	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
)

// DefaultListTTL is how long an upstream's @v/list, @latest, "not found"
// and checksum-database "latest" answers are kept.
const DefaultListTTL = time.Minute

// Options configure a Filler. Upstream is required.
type Options struct {
	// Upstream is the GOPROXY base URL, such as https://proxy.golang.org.
	Upstream string
	// SumDB is the checksum database's verifier key ("name+hash+key");
	// "" means sum.golang.org's. Its files are fetched through the
	// upstream's /sumdb/<name>/.
	SumDB string
	// Private are module path patterns (comma-separated globs, as
	// GOPRIVATE and GONOSUMDB) stored without the checksum check.
	Private string
	// Client makes the upstream requests; nil means one whose requests
	// time out after Timeout.
	Client *http.Client
	// Timeout bounds one upstream request when Client is nil; 0 means
	// five minutes.
	Timeout time.Duration
	// ListTTL is how long list, @latest, not-found and checksum-database
	// latest answers are kept; 0 means DefaultListTTL.
	ListTTL time.Duration
	// TempDir holds zips being downloaded; "" means os.TempDir().
	TempDir string
	// Logger receives fill failures; nil means slog.Default().
	Logger *slog.Logger
}

// A Filler fetches what a store lacks from an upstream GOPROXY, verifies
// it and stores it. Its Proxy and SumDB methods wrap a server's own
// handlers.
type Filler struct {
	repo    *modules.Repo
	up      *upstream
	sumUp   *upstream
	db      *checksumdb.DB
	private string
	ttl     time.Duration
	tempDir string
	log     *slog.Logger

	fills    singleflight.Group // "mod PATH@V" and "zip PATH@V"
	gets     singleflight.Group // upstream GETs of volatile and sumdb paths
	volatile *answerCache       // lists, @latest, not-found answers
	sums     *answerCache       // checksum-database files
	verifyMu sync.Mutex         // one proof import at a time (see verify)
	// keySaved: the checksum database's key is in the store (SaveKey
	// succeeded once); a failure is tried again by the next fill.
	keyMu    sync.Mutex
	keySaved bool
}

// New returns a Filler that stores into st.
func New(st store.Store, o Options) (*Filler, error) {
	base := strings.TrimSuffix(o.Upstream, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("upstream %q: want an http:// or https:// GOPROXY URL", o.Upstream)
	}
	key := cmp.Or(o.SumDB, checksumdb.KnownKeys["sum.golang.org"])
	db, err := checksumdb.NewDB(st, key)
	if err != nil {
		return nil, fmt.Errorf("checksum database key: %w", err)
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: cmp.Or(o.Timeout, 5*time.Minute)}
	}
	f := &Filler{
		repo:     &modules.Repo{Store: st},
		up:       &upstream{base: base, client: client},
		sumUp:    &upstream{base: base + "/sumdb/" + db.Name(), client: client},
		db:       db,
		private:  o.Private,
		ttl:      cmp.Or(o.ListTTL, DefaultListTTL),
		tempDir:  o.TempDir,
		log:      cmp.Or(o.Logger, slog.Default()),
		volatile: newAnswerCache(8 << 20),
		sums:     newAnswerCache(64 << 20),
	}
	return f, nil
}

// SumDBName is the name of the checksum database modules are verified
// against.
func (f *Filler) SumDBName() string { return f.db.Name() }

// covered reports whether the checksum database must vouch for path.
func (f *Filler) covered(path string) bool {
	return !module.MatchPrefixPatterns(f.private, path)
}

// Proxy returns a GOPROXY handler that serves from local (the store's own
// handler) and fills it from the upstream on a miss.
func (f *Filler) Proxy(local http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.serveProxy(w, r, local)
	})
}

func (f *Filler) serveProxy(w http.ResponseWriter, r *http.Request, local http.Handler) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		local.ServeHTTP(w, r)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	req, err := modfiles.ParseUpstreamRequest(p)
	if err != nil {
		local.ServeHTTP(w, r) // it answers 400 or 404 as it always has
		return
	}
	ctx := r.Context()
	switch req.Op {
	case modfiles.OpList, modfiles.OpLatest:
		f.serveVolatile(w, r, local, req, p)
		return
	}
	if modfiles.Check(req.Version) != nil || module.CanonicalVersion(req.Version.Version) != req.Version.Version {
		// A query ("v1.2.info") or a quirky version: the upstream's
		// answer, kept briefly, never stored.
		if req.Op == modfiles.OpZip {
			http.Error(w, fmt.Sprintf("not found: %s is not a canonical version", req.Version), http.StatusNotFound)
			return
		}
		f.serveVolatile(w, r, local, req, p)
		return
	}
	// The store's own handler first: most requests are hits. Only what
	// it does not hold (404), or held until prune removed it for want
	// of use (410 with a pruned record), is filled from the upstream.
	mw := newMissWriter(w, func(code int) bool {
		switch code {
		case http.StatusNotFound:
			return true
		case http.StatusGone:
			g, err := f.repo.IsGone(ctx, req.Version)
			return err == nil && g != nil && g.Pruned
		}
		return false
	})
	local.ServeHTTP(mw, r)
	mw.finish()
	if !mw.missed {
		return
	}
	if err := f.fill(ctx, req.Version, req.Op == modfiles.OpZip); err != nil {
		f.fail(w, req, err)
		return
	}
	local.ServeHTTP(w, r)
}

// has reports whether the store can answer for v without the upstream:
// it holds v's .info and .mod (and .zip, with zip), or a deletion record
// (the store's 410 stands) that is not prune's: a version pruned because
// nobody used it is fetched again when someone does (fillMod).
func (f *Filler) has(ctx context.Context, v module.Version, zip bool) (bool, error) {
	kinds := []modfiles.Kind{modfiles.Info, modfiles.Mod}
	if zip {
		kinds = append(kinds, modfiles.Zip)
	}
	if g, err := f.repo.IsGone(ctx, v); err != nil || g != nil {
		return g != nil && !g.Pruned, err
	}
	for _, k := range kinds {
		ok, err := f.exists(ctx, v, k)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (f *Filler) exists(ctx context.Context, v module.Version, k modfiles.Kind) (bool, error) {
	name, err := modfiles.Name(v, k)
	if err != nil {
		return false, err
	}
	return store.Exists(ctx, f.repo.Store, name)
}

// fill fetches, verifies and stores v's .info and .mod, and with zip its
// zip. One fill of each version and level runs at a time; every caller
// waiting for it gets its result. The fill goes on when the client that
// started it goes away, so that the others still get it.
func (f *Filler) fill(ctx context.Context, v module.Version, zip bool) error {
	key := "mod " + v.String()
	if zip {
		key = "zip " + v.String()
	}
	ch := f.fills.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		// Another process, or a fill that just ended, may have stored it.
		if ok, err := f.has(fctx, v, zip); err != nil || ok {
			return nil, err
		}
		if !zip {
			return nil, f.fillMod(fctx, v)
		}
		return nil, f.fillZip(fctx, v)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			f.log.Warn("fill-through", "module", v.Path, "version", v.Version, "zip", zip, "err", res.Err)
		}
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// upstreamPath is the upstream request path of v's file of kind k.
func upstreamPath(v module.Version, k modfiles.Kind) (string, error) {
	return modfiles.ProxyPath(v, k)
}

// fillMod fetches v's .info and .mod, checks the go.mod against the
// checksum database and stores both.
func (f *Filler) fillMod(ctx context.Context, v module.Version) error {
	ip, err := upstreamPath(v, modfiles.Info)
	if err != nil {
		return err
	}
	info, err := f.up.get(ctx, ip, 1<<20)
	if err != nil {
		return err
	}
	var ij modules.InfoJSON
	if err := json.Unmarshal(info, &ij); err != nil || ij.Version != v.Version {
		return &UnavailableError{URL: f.up.base + "/" + ip, Err: fmt.Errorf("not the .info of %s", v)}
	}
	mp, _ := upstreamPath(v, modfiles.Mod)
	mod, err := f.up.get(ctx, mp, 16<<20)
	if err != nil {
		return err
	}
	if err := f.verify(ctx, hashesOf(v, "", mod)); err != nil {
		return err
	}
	// A version prune removed comes back: its record goes first (a crash
	// then leaves it absent, and fetched again).
	if g, err := f.repo.IsGone(ctx, v); err != nil {
		return err
	} else if g != nil {
		if !g.Pruned {
			return fmt.Errorf("%s: %w (deleted)", v, fs.ErrNotExist)
		}
		name, _ := modfiles.Name(v, modfiles.Gone)
		if err := f.repo.Store.Delete(ctx, name); err != nil {
			return err
		}
	}
	if err := f.repo.Add(ctx, v, modules.Files{Info: bytes.NewReader(info), Mod: bytes.NewReader(mod)}); err != nil {
		return err
	}
	f.stamp(ctx, v)
	return nil
}

// stamp tells the catalogs of the servers sharing the store that v was
// added (modules.AdditionStamp). The version is stored and served
// whatever happens here: a failure is logged, and the catalogs see the
// version at their next full walk.
func (f *Filler) stamp(ctx context.Context, v module.Version) {
	if err := modules.StampAddition(ctx, f.repo.Store, "fill "+v.String()); err != nil {
		f.log.Warn("fill-through: "+err.Error(), "module", v.Path, "version", v.Version)
	}
}

// fillZip stores v's zip once its .info and .mod are stored: the zip is
// downloaded to a temporary file, checked against the module zip rules
// and, with the go.mod, against the checksum database.
func (f *Filler) fillZip(ctx context.Context, v module.Version) error {
	if ok, err := f.has(ctx, v, false); err != nil {
		return err
	} else if !ok {
		if err := f.fill(ctx, v, false); err != nil {
			return err
		}
	}
	infoName, _ := modfiles.Name(v, modfiles.Info)
	modName, _ := modfiles.Name(v, modfiles.Mod)
	info, err := store.ReadAll(ctx, f.repo.Store, infoName)
	if err != nil {
		return err
	}
	mod, err := store.ReadAll(ctx, f.repo.Store, modName)
	if err != nil {
		return err
	}
	zp, _ := upstreamPath(v, modfiles.Zip)
	tmp, err := f.download(ctx, zp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := modzip.CheckZip(v, tmp.Name()); err != nil {
		return &VerifyError{Version: v, Err: fmt.Errorf("module zip from the upstream breaks the module zip rules: %w", err)}
	}
	zipHash, err := modfiles.HashZip(tmp.Name())
	if err != nil {
		return &VerifyError{Version: v, Err: err}
	}
	if err := f.verify(ctx, hashesOf(v, zipHash, mod)); err != nil {
		return err
	}
	if err := f.repo.Add(ctx, v, modules.Files{Info: bytes.NewReader(info), Mod: bytes.NewReader(mod), Zip: tmp, ZipHash: zipHash}); err != nil {
		return err
	}
	// The list is rewritten under the store's import lock, as every
	// writer of it does: an import committing meanwhile would otherwise
	// write its list without this version, or this one without its.
	held, err := store.LockImport(ctx, f.repo.Store, 0)
	if err != nil {
		return err
	}
	defer held.Unlock()
	repo := modules.Repo{Store: store.Fence(f.repo.Store, held, "the fetch of "+v.String()+" stopped before its version list: the version is stored, and the next import or fetch of the module writes the list")}
	if err := repo.WriteList(ctx, v.Path); err != nil {
		return err
	}
	f.stamp(ctx, v)
	return nil
}

// hashesOf returns what the checksum database records for v: the zip's
// hash (zipHash, "" for none yet) and the go.mod's, except for Go
// toolchain modules, whose records have a zip line only (their go.mod is
// made up by the proxy).
func hashesOf(v module.Version, zipHash string, mod []byte) checksumdb.ModuleHashes {
	h := checksumdb.ModuleHashes{Version: v, ZipHash: zipHash, ModHash: modfiles.HashMod(mod)}
	if v.Path == resolve.ToolchainModule {
		h.ModHash = ""
	}
	return h
}

// download copies the upstream's file at p into a temporary file, at most
// modzip.MaxZipFile bytes, and returns it open at its start.
func (f *Filler) download(ctx context.Context, p string) (*os.File, error) {
	body, err := f.up.open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	// Locked while open (package scratch): a server's housekeeping
	// removes such files a crash left, never one being filled.
	tmp, err := scratch.CreateTemp(f.tempDir, "modferry-fill-*.zip")
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(tmp, io.LimitReader(body, modzip.MaxZipFile+1))
	if err == nil && n > modzip.MaxZipFile {
		err = fmt.Errorf("larger than %d bytes", int64(modzip.MaxZipFile))
	}
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, &UnavailableError{URL: f.up.base + "/" + p, Err: err}
	}
	return tmp, nil
}

// VerifyError is a module the upstream served whose files the checksum
// database does not vouch for (or that break the module zip rules): it is
// not stored, and clients get 502.
type VerifyError struct {
	Version module.Version
	Err     error
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s: refused, not verified: %v", e.Version, e.Err)
}
func (e *VerifyError) Unwrap() error { return e.Err }

// saveKey writes the checksum database's key into the store once: after
// an error (the store unreachable for a moment) the next call tries again,
// so that one failure does not stop every later fill.
func (f *Filler) saveKey(ctx context.Context) error {
	f.keyMu.Lock()
	defer f.keyMu.Unlock()
	if f.keySaved {
		return nil
	}
	if err := f.db.SaveKey(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	f.keySaved = true
	return nil
}

// verify proves h against the checksum database and keeps the proof in
// the store's checksum-database area; paths matching the private patterns
// pass unchecked. The proof is captured with every head the store ever
// served as an old head, so that the import keeps each of them provable.
// Captures and imports run one at a time: two at once could each be
// captured against heads the other moves past.
func (f *Filler) verify(ctx context.Context, h checksumdb.ModuleHashes) error {
	if !f.covered(h.Path) {
		return nil
	}
	if err := f.saveKey(ctx); err != nil {
		return err
	}
	f.verifyMu.Lock()
	defer f.verifyMu.Unlock()
	heads, err := f.db.Heads(ctx)
	if err != nil {
		return err
	}
	var old [][]byte
	for _, hd := range heads {
		old = append(old, hd.Note)
	}
	cur, err := f.db.Head(ctx)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	proof, err := checksumdb.Capture(ctx, checksumdb.CaptureOptions{
		VerifierKey: f.db.Key(),
		Fetch:       pinnedFetch(f.sumGet, cur),
		Modules:     []checksumdb.ModuleHashes{h},
		OldHeads:    old,
	})
	if err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) && !errors.Is(err, checksumdb.ErrSecurity) {
			return err
		}
		return &VerifyError{Version: h.Version, Err: err}
	}
	if _, err := f.db.ImportModules(ctx, proof.Files, []checksumdb.ModuleHashes{h}); err != nil {
		if errors.Is(err, checksumdb.ErrSecurity) {
			return &VerifyError{Version: h.Version, Err: err}
		}
		return err
	}
	return nil
}

// pinnedFetch returns fetch that proves records against cur, the head
// the store serves (nil: none yet), whenever cur's tree holds them: it
// answers "latest" with cur, and rewrites a lookup whose record id is
// below cur's size to carry cur rather than the newer head the upstream
// signed it with. Capture still proves the record is in cur's tree with
// tiles, and cur is the database's own signed head; but the store's head
// moves forward only for records newer than it, rather than with every
// fill, which keeps the heads the store has served (each of which every
// later import must keep provable) few.
func pinnedFetch(fetch func(context.Context, string) ([]byte, error), cur *checksumdb.Head) func(context.Context, string) ([]byte, error) {
	if cur == nil {
		return fetch
	}
	return func(ctx context.Context, p string) ([]byte, error) {
		if p == "latest" {
			return cur.Note, nil
		}
		data, err := fetch(ctx, p)
		if err != nil || !strings.HasPrefix(p, "lookup/") {
			return data, err
		}
		id, text, _, perr := tlog.ParseRecord(data)
		if perr != nil || id >= cur.N {
			return data, nil // Capture reports what is wrong with it
		}
		msg, ferr := tlog.FormatRecord(id, text)
		if ferr != nil {
			return data, nil
		}
		return append(msg, cur.Note...), nil
	}
}

// fail answers a request the fill could not serve.
func (f *Filler) fail(w http.ResponseWriter, req modfiles.Request, err error) {
	var nf *NotFoundError
	var ue *UnavailableError
	var ve *VerifyError
	switch {
	case errors.As(err, &nf):
		http.Error(w, fmt.Sprintf("not found: %s: upstream answered %d", req.Version, nf.Status), nf.Status)
	case errors.As(err, &ve):
		http.Error(w, err.Error(), http.StatusBadGateway)
	case errors.As(err, &ue) && ue.Timeout, errors.Is(err, context.DeadlineExceeded):
		http.Error(w, fmt.Sprintf("upstream timed out: %v", err), http.StatusGatewayTimeout)
	case errors.As(err, &ue):
		http.Error(w, fmt.Sprintf("upstream unavailable: %v", err), http.StatusBadGateway)
	case errors.Is(err, context.Canceled):
		// The client went away.
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, fmt.Sprintf("not found: %s", req.Version), http.StatusNotFound)
	default:
		f.log.Error("fill-through", "module", req.Path, "version", req.Version.Version, "err", err)
		http.Error(w, "internal error filling from the upstream", http.StatusInternalServerError)
	}
}
