package checksumdb

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modferry/modferry/internal/modfiles"
)

// recordFixtures returns a test database holding 300 filler records, then
// the fixtures' hashes, each followed by gap(i) more filler records.
func recordFixtures(t testing.TB, gap func(i int) int) (*checksumdbtest.DB, []ModuleHashes) {
	t.Helper()
	db := newTestDB(t)
	fx := fixtures(t)
	db.AddFiller(t, 300)
	for i, m := range fx {
		addHashes(t, db, m)
		db.AddFiller(t, gap(i))
	}
	return db, fx
}

func TestCaptureVerify(t *testing.T) {
	ctx := context.Background()
	db, fx := recordFixtures(t, func(i int) int { return i * 7 }) // heads change between records
	toolchain := ModuleHashes{Version: module.Version{Path: "golang.org/toolchain", Version: "v0.0.1-go1.27.3.linux-amd64"}, ZipHash: checksumdbtest.FakeHash("toolchain")}
	addHashes(t, db, toolchain)
	db.AddFiller(t, 45)
	mods := append(fx, toolchain)

	p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("proof: head size %d, %d files, %d bytes", p.Head.N, len(p.Files), p.Size())
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "tile/") {
			t.Logf("  %s (%d bytes)", path, len(p.Files[path]))
		}
	}
	h, err := Verify(p.Files, db.Name, db.Key, mods)
	if err != nil {
		t.Fatal(err)
	}
	if h.Tree != p.Head.Tree {
		t.Fatalf("Verify head %v, Capture head %v", h.Tree, p.Head.Tree)
	}

	// A mismatching hash stops the capture, naming the module.
	bad := append([]ModuleHashes(nil), mods...)
	bad[2].ZipHash = checksumdbtest.FakeHash("evil")
	_, err = Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: bad})
	var me *MismatchError
	if !errors.As(err, &me) || me.Module != bad[2].Version || !errors.Is(err, ErrSecurity) {
		t.Fatalf("Capture with bad hash: %v", err)
	}
	t.Logf("mismatch: %v", err)
	if _, err := Verify(p.Files, db.Name, db.Key, bad); !errors.As(err, &me) {
		t.Fatalf("Verify with bad hash: %v", err)
	}
}

func TestVerifyTamper(t *testing.T) {
	ctx := context.Background()
	db, fx := recordFixtures(t, func(int) int { return 0 })
	db.AddFiller(t, 20)
	p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: fx})
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := modfiles.LookupPath(fx[0].Version)
	var tile string
	for _, path := range p.Paths() {
		if strings.HasPrefix(path, "tile/8/0/") {
			tile = path
		}
	}
	cases := map[string]func(map[string][]byte){
		"lookup record": func(f map[string][]byte) {
			f[lk] = []byte(strings.Replace(string(f[lk]), fx[0].ZipHash, checksumdbtest.FakeHash("x"), 1))
		},
		"tile byte": func(f map[string][]byte) {
			d := append([]byte(nil), f[tile]...)
			d[len(d)-1] ^= 1
			f[tile] = d
		},
		"head signature": func(f map[string][]byte) {
			s := string(f["latest"])
			i := strings.LastIndex(s, " ")
			f["latest"] = []byte(s[:i+1] + "AAAA" + s[i+5:])
		},
		"missing tile": func(f map[string][]byte) { delete(f, tile) },
	}
	for name, tamper := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			files := make(map[string][]byte)
			for k, v := range p.Files {
				files[k] = v
			}
			tamper(files)
			_, err := Verify(files, db.Name, db.Key, fx)
			if err == nil {
				t.Fatal("Verify accepted a tampered proof")
			}
			var ie *IncompleteError
			if !errors.Is(err, ErrSecurity) && !errors.As(err, &ie) {
				t.Errorf("error does not match ErrSecurity: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestVerifyErrorOnEveryCore: the checks of a proof's lookups run on
// every core, and a tampered proof must still get the error one check
// after the other gives (the first failing module's, in order), every
// time.
func TestVerifyErrorOnEveryCore(t *testing.T) {
	ctx := context.Background()
	db, fx := recordFixtures(t, func(i int) int { return 260 + i }) // each record in a tile of its own
	p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: db.Fetch, Modules: fx})
	if err != nil {
		t.Fatal(err)
	}
	if len(fx) < 4 {
		t.Fatalf("need 4 fixtures, have %d", len(fx))
	}
	tamperLookup := func(f map[string][]byte, m ModuleHashes) {
		lk, _ := modfiles.LookupPath(m.Version)
		f[lk] = []byte(strings.Replace(string(f[lk]), m.ZipHash, checksumdbtest.FakeHash("x"), 1))
	}
	cases := map[string]func(map[string][]byte){
		"two lookups": func(f map[string][]byte) { tamperLookup(f, fx[3]); tamperLookup(f, fx[1]) },
		// The tiles of the third and fourth records in the order the
		// checks take: the go client's first lookup, which runs alone,
		// succeeds; the next ones fail, in parallel.
		"two missing tiles": func(f map[string][]byte) {
			wants := dedupe(fx)
			for _, m := range wants[2:4] {
				lk, _ := modfiles.LookupPath(m.Version)
				id, _, _ := strings.Cut(string(f[lk]), "\n")
				n, err := strconv.ParseInt(id, 10, 64)
				if err != nil {
					t.Fatalf("lookup %s: %v", lk, err)
				}
				tile := tlog.Tile{H: 8, L: 0, N: n / 256, W: 256}.Path()
				for p := range f {
					if p == tile || strings.HasPrefix(p, tile+".p/") {
						delete(f, p)
					}
				}
			}
		},
		"wrong hash carried": nil,
	}
	for name, tamper := range cases {
		files := maps.Clone(p.Files)
		mods := slices.Clone(fx)
		if tamper != nil {
			tamper(files)
		} else {
			mods[2].ZipHash = checksumdbtest.FakeHash("evil")
			mods[len(mods)-1].ModHash = checksumdbtest.FakeHash("evil too")
		}
		old := runtime.GOMAXPROCS(1)
		_, err := Verify(files, db.Name, db.Key, mods)
		runtime.GOMAXPROCS(max(old, 4))
		if err == nil {
			runtime.GOMAXPROCS(old)
			t.Fatalf("%s: Verify accepted a tampered proof", name)
		}
		for range 10 {
			if _, got := Verify(files, db.Name, db.Key, mods); got == nil || got.Error() != err.Error() {
				runtime.GOMAXPROCS(old)
				t.Fatalf("%s: on every core: %v\none after the other: %v", name, got, err)
			}
		}
		runtime.GOMAXPROCS(old)
		if name == "two missing tiles" && !strings.Contains(err.Error(), dedupe(fx)[2].Path) {
			t.Fatalf("%s: %v does not name %s, the first module whose tile is missing", name, err, dedupe(fx)[2].Path)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestCaptureReadsTilesAtOnce checks that a capture whose lookups carry
// heads of many sizes (as a proxy serves lookups it cached earlier)
// checks those heads at once: its tile fetches come in a few rounds, not
// in one round per head. A round is a set of fetches in flight together:
// each tile fetch waits until no other has started for a while.
func TestCaptureReadsTilesAtOnce(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	fx := fixtures(t)
	db.AddFiller(t, 300)
	lookups := map[string][]byte{}
	for _, m := range fx {
		addHashes(t, db, m)
		db.AddFiller(t, 600) // every head ends in a level-0 tile of its own
		p, _ := modfiles.LookupPath(m.Version)
		data, err := db.Fetch(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		lookups[p] = data // served later with the head it has now
	}
	if len(fx) < 6 {
		t.Fatalf("only %d fixtures", len(fx))
	}

	const quiet = 250 * time.Millisecond // long enough that a slow scheduler does not split a round
	var (
		mu     sync.Mutex
		rounds int
		last   time.Time
		wait   = make(chan struct{})
	)
	fetch := func(ctx context.Context, p string) ([]byte, error) {
		if data, ok := lookups[p]; ok {
			return data, nil
		}
		if strings.HasPrefix(p, "tile/") {
			mu.Lock()
			if last.IsZero() {
				rounds++
				go func() { // end the round once no fetch started for quiet
					for {
						time.Sleep(quiet / 4)
						mu.Lock()
						if time.Since(last) >= quiet {
							last = time.Time{}
							close(wait)
							wait = make(chan struct{})
							mu.Unlock()
							return
						}
						mu.Unlock()
					}
				}()
			}
			last = time.Now()
			w := wait
			mu.Unlock()
			<-w
		}
		return db.Fetch(ctx, p)
	}
	p, err := Capture(ctx, CaptureOptions{VerifierKey: db.Key, Fetch: fetch, Modules: fx})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(p.Files, db.Name, db.Key, fx); err != nil {
		t.Fatal(err)
	}
	// The newest head's edge, then every other head and record at once,
	// then at most the full tiles a partial one was cut from.
	if rounds > 3 {
		t.Errorf("%d heads checked in %d rounds of tile fetches, want at most 3", len(fx)+1, rounds)
	}
	t.Logf("%d heads, %d rounds of tile fetches", len(fx)+1, rounds)
}
