package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

// TestImportKill9 kills `modferry import` with SIGKILL at random moments,
// then checks that every file the store would serve matches the bundle's
// manifest and that importing again completes.
func TestImportKill9(t *testing.T) {
	slow(t)
	key, _ := bundletest.NewKey(t)
	dir := t.TempDir()
	b := filepath.Join(dir, "big.tar.zst")
	m := bundletest.Write(t, b, bundletest.RandomModules(42, 60, 256<<10), key)
	pub := filepath.Join(dir, "key.pub")
	pubText, _ := key.Public().MarshalText()
	os.WriteFile(pub, pubText, 0o644)

	// How long does a whole import take? (The fastest of three.)
	var full time.Duration
	for i := range 3 {
		probe := filepath.Join(dir, fmt.Sprintf("probe%d", i))
		start := time.Now()
		mf(t, "import", "--pubkey", pub, "--store", probe, b)
		if d := time.Since(start); full == 0 || d < full {
			full = d
		}
		os.RemoveAll(probe)
	}
	t.Logf("a whole import takes %v", full)

	storeDir := filepath.Join(dir, "store")
	r := rand.New(rand.NewPCG(7, 7))
	// Kill at random moments until 20 imports died mid-way (bounded).
	const want, maxRuns = 20, 100
	killed, runs := 0, 0
	for i := 0; killed < want && i < maxRuns; i++ {
		runs++
		cmd := exec.Command(modferryBin, "import", "--pubkey", pub, "--store", storeDir, b)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(r.Int64N(int64(full)))
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		finished := cmd.Wait() == nil
		checkStore(t, storeDir, m, i)
		if finished {
			// Done before the kill: start over from an empty store, and
			// aim earlier.
			os.RemoveAll(storeDir)
			full = full * 4 / 5
		} else {
			killed++
		}
	}
	t.Logf("%d of %d imports were killed before finishing", killed, runs)
	if killed < want {
		t.Errorf("only %d of %d imports were killed mid-way: the test does not test much", killed, runs)
	}
	out := mf(t, "import", "--pubkey", pub, "--store", storeDir, b)
	if !strings.Contains(out, "imported") && !strings.Contains(out, "already imported") {
		t.Fatalf("final import: %s", out)
	}
	checkStore(t, storeDir, m, -1)
	st, _ := store.NewDisk(storeDir)
	repo := &modules.Repo{Store: st}
	for _, mod := range m.Modules {
		if vs, _ := repo.List(context.Background(), mod.Path); len(vs) != 1 {
			t.Errorf("after the final import %s lists %v", mod.Path, vs)
		}
	}
}

// checkStore checks every visible module file against the manifest and
// that listed versions are complete.
func checkStore(t *testing.T, dir string, m *bundle.Manifest, run int) {
	t.Helper()
	want := map[string]string{}
	for _, f := range m.Files {
		want[f.Path] = f.SHA256
	}
	st, err := store.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo := &modules.Repo{Store: st}
	for _, mod := range m.Modules {
		v := mod.ModuleVersion()
		listed, _ := repo.List(ctx, v.Path)
		for _, k := range []modfiles.Kind{modfiles.Info, modfiles.Mod, modfiles.Zip} {
			name, _ := modfiles.Name(v, k)
			f, err := st.Open(ctx, name)
			if errors.Is(err, fs.ErrNotExist) {
				if len(listed) > 0 {
					t.Fatalf("run %d: %s is listed but %s is missing", run, v, name)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			if got := hex.EncodeToString(h.Sum(nil)); got != want[name] {
				t.Fatalf("run %d: %s is visible with content that is not the bundle's", run, name)
			}
		}
		if len(listed) > 0 {
			zh, _ := modfiles.Name(v, modfiles.ZipHash)
			b, err := store.ReadAll(ctx, st, zh)
			if err != nil || strings.TrimSpace(string(b)) != mod.ZipHash {
				t.Fatalf("run %d: %s is listed, its .ziphash is %q (%v), want %s", run, v, b, err, mod.ZipHash)
			}
		}
	}
}
