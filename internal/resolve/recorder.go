package resolve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/safefile"
)

// A recorder is a GOPROXY server on 127.0.0.1 that forwards to the
// upstream proxy list, stores .info, .mod and .zip files under dir in the
// cache/download layout, and records every file it serves.
type recorder struct {
	ctx      context.Context // for upstream fetches, which outlive requests
	dir      string          // the download/ tree
	fetch    *fetcher
	sem      chan struct{}        // bounds concurrent upstream fetches
	noProxy  string               // GONOPROXY globs: answered 404 so the go command goes direct
	progress func(Event)          // may be nil; called with mu held
	seen     func(module.Version) // may be nil; called with mu held, once per version
	sumdb    SumDBFiles           // may be nil; see forwardSumDB

	// Early completion (see completeEarly): nil until startCompletion.
	completing  chan struct{} // bounds the fetches at once
	completeWG  sync.WaitGroup
	completeOff atomic.Bool

	srv *http.Server
	url string

	mu       sync.Mutex
	inflight map[string]*flight
	served   map[string]File         // by GOPROXY name, this run
	versions map[module.Version]bool // of the files served
	order    []*CommandRequests      // by command ID, in start order
	stage    string
	bytes    int64
}

// commandPrefix starts the URL path of each go command's own GOPROXY
// (see [recorder.proxyURL]): the recorder credits a request to the
// command that made it, even when several commands run at once.
const commandPrefix = "/c/"

type flight struct {
	done chan struct{}
	file File
	err  error
}

func newRecorder(ctx context.Context, dir string, f *fetcher, jobs int, noProxy string, progress func(Event)) *recorder {
	if jobs < 1 {
		jobs = 1
	}
	return &recorder{
		ctx:      ctx,
		dir:      dir,
		fetch:    f,
		sem:      make(chan struct{}, jobs),
		noProxy:  noProxy,
		progress: progress,
		inflight: make(map[string]*flight),
		served:   make(map[string]File),
		versions: make(map[module.Version]bool),
	}
}

// start listens on a random port of 127.0.0.1.
func (r *recorder) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.url = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
	return nil
}

func (r *recorder) close() {
	if r.srv != nil {
		r.srv.Close()
	}
}

// newCommand starts counting requests for one go command (or one step of
// Resolve's own) and returns its ID.
func (r *recorder) newCommand(project, command, stage string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = append(r.order, &CommandRequests{Project: project, Command: command})
	r.stage = stage
	r.report(0)
	return len(r.order) - 1
}

// proxyURL is the GOPROXY URL of the command with this ID.
func (r *recorder) proxyURL(id int) string {
	return r.url + commandPrefix + strconv.Itoa(id)
}

// command returns the command an ID names, or nil.
func (r *recorder) command(id int) *CommandRequests {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id < 0 || id >= len(r.order) {
		return nil
	}
	return r.order[id]
}

func (r *recorder) report(total int) {
	if r.progress != nil {
		r.progress(Event{Stage: r.stage, Files: len(r.served), Bytes: r.bytes, Total: total})
	}
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := req.URL.Path
	var cmd *CommandRequests
	if rest, ok := strings.CutPrefix(name, commandPrefix); ok {
		id, rest, _ := strings.Cut(rest, "/")
		n, err := strconv.Atoi(id)
		if cmd = r.command(n); err != nil || cmd == nil {
			http.Error(w, "unknown command "+id, http.StatusNotFound)
			return
		}
		name = rest
	}
	name = strings.TrimPrefix(name, "/")
	if strings.HasPrefix(name, "sumdb/") {
		r.forwardSumDB(w, name)
		return
	}
	rq, err := modfiles.ParseUpstreamRequest(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if r.noProxy != "" && module.MatchPrefixPatterns(r.noProxy, rq.Version.Path) {
		http.Error(w, "module matches GONOPROXY; fetch it directly", http.StatusNotFound)
		return
	}
	switch rq.Op {
	case modfiles.OpList, modfiles.OpLatest:
		r.forward(w, name)
		return
	}
	f, err := r.ensure(rq.Version, rq.Op.Kind())
	if err != nil {
		writeError(w, err)
		return
	}
	r.record(f, cmd)
	file, err := os.Open(f.Path)
	if err != nil {
		writeError(w, err)
		return
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		writeError(w, err)
		return
	}
	http.ServeContent(w, req, "", st.ModTime(), file)
}

func writeError(w http.ResponseWriter, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	http.Error(w, err.Error(), http.StatusBadGateway)
}

// forward passes a request that is not recorded (list, @latest, sumdb)
// through to the upstream list.
func (r *recorder) forward(w http.ResponseWriter, name string) {
	data, err := r.getSmall(name)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Write(data)
}

// getSmall fetches a small file from the upstream list. It is buffered so
// that a retry never writes half a body twice.
func (r *recorder) getSmall(name string) ([]byte, error) {
	var buf bytes.Buffer
	r.sem <- struct{}{}
	err := r.fetch.get(r.ctx, name, func(body io.Reader) error {
		buf.Reset()
		_, err := io.Copy(&buf, body)
		return err
	})
	<-r.sem
	return buf.Bytes(), err
}

// forwardSumDB passes a checksum-database request through, asking
// r.sumdb for the files that never change (lookups, full tiles): the
// export answers them from its work dir, or shares the fetch with the
// prefetch of its proofs. The go command checks every file it gets from
// the database, as it would over the network: with its module cache
// fresh at every export, it looks up every module it verifies that
// go.sum does not list.
func (r *recorder) forwardSumDB(w http.ResponseWriter, name string) {
	key, ok := sumdbCacheKey(name)
	if !ok || r.sumdb == nil {
		r.forward(w, name)
		return
	}
	data, err := r.sumdb.Get(key, func() ([]byte, error) { return r.getSmall(name) })
	if err != nil {
		writeError(w, err)
		return
	}
	w.Write(data)
}

// sumdbCacheKey returns the cache key of a request under sumdb/ (NAME/path
// in the database) if it asks for a file that never changes: a lookup or
// a full hash tile (not the latest head, a partial tile or a data tile).
func sumdbCacheKey(name string) (string, bool) {
	key, _ := strings.CutPrefix(name, "sumdb/")
	db, p, ok := strings.Cut(key, "/")
	if !ok || db == "" || path.Clean(key) != key || !filepath.IsLocal(filepath.FromSlash(key)) {
		return "", false
	}
	if strings.HasPrefix(p, "lookup/") {
		return key, true
	}
	t, err := tlog.ParseTilePath(p)
	return key, err == nil && t.L >= 0 && t.W == 1<<t.H
}

// completeFor is what complete adds for a file of each kind: the .info
// of every .mod, the .mod of every .info, both for every .zip.
var completeFor = map[modfiles.Kind][]modfiles.Kind{
	modfiles.Info: {modfiles.Mod},
	modfiles.Mod:  {modfiles.Info},
	modfiles.Zip:  {modfiles.Info, modfiles.Mod},
}

// startCompletion makes the recorder fetch, in the background while the
// go commands run, the files complete will ask for once they are done,
// at most jobs at a time; stopCompletion ends that.
func (r *recorder) startCompletion(jobs int) {
	r.completing = make(chan struct{}, jobs)
}

// completeEarly fetches into the store, in the background, the files
// complete will add for f (see completeFor): as each version's first
// files are served, its others come while the go commands still work,
// instead of in one batch after them (1.1 s of round trips for the 845
// module versions of golangci-lint). Nothing is recorded here: complete
// records what it needs and finds it stored; a failure is left for it to
// meet again. Called with mu held.
func (r *recorder) completeEarly(f File) {
	if r.noProxy != "" && module.MatchPrefixPatterns(r.noProxy, f.Module.Path) {
		return // complete leaves these to go mod download
	}
	kinds := completeFor[f.Kind]
	if len(kinds) == 0 {
		return
	}
	r.completeWG.Go(func() {
		for _, k := range kinds {
			select {
			case r.completing <- struct{}{}:
			case <-r.ctx.Done():
				return
			}
			if !r.completeOff.Load() {
				r.ensure(f.Module, k)
			}
			<-r.completing
		}
	})
}

// stopCompletion ends the early completion and waits for its fetches
// under way.
func (r *recorder) stopCompletion() {
	r.completeOff.Store(true)
	r.completeWG.Wait()
}

// record notes that f was served, crediting cmd (if not nil) when it is
// the first to ask for f in this run.
func (r *recorder) record(f File, cmd *CommandRequests) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := f.Name()
	if _, ok := r.served[name]; ok {
		return
	}
	r.served[name] = f
	r.bytes += f.Size
	if r.completing != nil && !r.completeOff.Load() {
		r.completeEarly(f)
	}
	if !r.versions[f.Module] {
		r.versions[f.Module] = true
		if r.seen != nil {
			r.seen(f.Module)
		}
	}
	if c := cmd; c != nil {
		switch f.Kind {
		case modfiles.Info:
			c.Info++
		case modfiles.Mod:
			c.Mod++
		case modfiles.Zip:
			c.Zip++
		}
	}
	r.report(0)
}

// ensure returns the stored file for m and k, fetching it from upstream
// first if the store does not have it. Concurrent calls for one file share
// one fetch.
func (r *recorder) ensure(m module.Version, k modfiles.Kind) (File, error) {
	name, err := modfiles.ProxyPath(m, k)
	if err != nil {
		return File{}, err
	}
	local := filepath.Join(r.dir, filepath.FromSlash(name))
	if st, err := os.Stat(local); err == nil {
		return File{Module: m, Kind: k, Path: local, Size: st.Size()}, nil
	}
	r.mu.Lock()
	if fl, ok := r.inflight[name]; ok {
		r.mu.Unlock()
		<-fl.done
		return fl.file, fl.err
	}
	fl := &flight{done: make(chan struct{})}
	r.inflight[name] = fl
	r.mu.Unlock()

	// Re-check after winning the flight: a fetch may just have finished.
	if st, err := os.Stat(local); err == nil {
		fl.file = File{Module: m, Kind: k, Path: local, Size: st.Size()}
	} else {
		r.sem <- struct{}{}
		var n int64
		fl.err = r.fetch.get(r.ctx, name, func(body io.Reader) error {
			var err error
			n, err = saveFile(local, body)
			return err
		})
		<-r.sem
		if fl.err == nil {
			fl.file = File{Module: m, Kind: k, Path: local, Size: n}
		}
	}
	r.mu.Lock()
	delete(r.inflight, name)
	r.mu.Unlock()
	close(fl.done)
	return fl.file, fl.err
}

// adopt copies a file the go command fetched directly (a GONOPROXY module)
// from the module cache into the store and records it.
func (r *recorder) adopt(m module.Version, k modfiles.Kind, src string) (File, error) {
	name, err := modfiles.ProxyPath(m, k)
	if err != nil {
		return File{}, err
	}
	local := filepath.Join(r.dir, filepath.FromSlash(name))
	f := File{Module: m, Kind: k, Path: local}
	if st, err := os.Stat(local); err == nil {
		f.Size = st.Size()
		return f, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return File{}, err
	}
	defer in.Close()
	f.Size, err = saveFile(local, in)
	return f, err
}

// saveFile writes the contents of r to name, creating its directory, and
// returns the number of bytes written.
func saveFile(name string, r io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return 0, err
	}
	return safefile.Write(name, r, 0o644)
}

// files returns the files served in this run.
func (r *recorder) files() map[string]File {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]File, len(r.served))
	for k, v := range r.served {
		out[k] = v
	}
	return out
}
