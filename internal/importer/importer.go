// Package importer adds signed bundles to a module store, all or nothing.
//
// Import hashes the bundle file (its digest names it in the import
// history), streams it through bundle.Read into a staging directory beside
// the store — every signature, size, SHA-256, zip-rule and h1: check passes
// before anything else happens — then checks the bundle against the store
// (a module version the store holds with different content stops the
// import, naming the module, before anything is written), and commits:
// for each module version the .mod, .zip and .ziphash first and the .info
// last, each by an atomic rename, so a version becomes visible only whole;
// then the list files; then the import record "bundles/<digest>.json",
// which marks the bundle imported. A crash at any point leaves every
// visible file complete and correct; importing the bundle again finishes
// the job. Importing a bundle already recorded is a no-op.
package importer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/module"

	"modferry/internal/bundle"
	"modferry/internal/modules"
	"modferry/internal/store"
)

// Options configure Import.
type Options struct {
	// Verify checks the manifest signature (see bundle.ReadOptions).
	Verify func(manifest, sig []byte) error
	// AllowUnsigned accepts bundles without a signature.
	AllowUnsigned bool
	// Actor is recorded in the import history ("local:alice").
	Actor string
	// KeyID is recorded in the import history, if known.
	KeyID func() string
	// CommitHook, if set, runs before each file is committed; tests use it
	// to stop an import at chosen points.
	CommitHook func(name string)
	// ModCache says the store is a GOMODCACHE's cache directory: proofs
	// go where the go command's checksum-database client caches them
	// (download/sumdb/NAME/...), so builds with GOPROXY=off verify too.
	ModCache bool
}

// Result reports an import.
type Result struct {
	Digest          string           `json:"digest"` // SHA-256 of the bundle file
	AlreadyImported bool             `json:"alreadyImported"`
	Added           []module.Version `json:"added"`
	Present         []module.Version `json:"present"` // held already with the same content
	Files           int              `json:"files"`
	Bytes           int64            `json:"bytes"`
	Manifest        *bundle.Manifest `json:"-"`
}

// Record is the import history entry, stored as bundles/<digest>.json.
type Record struct {
	Digest   string          `json:"digest"`
	Imported time.Time       `json:"imported"`
	Actor    string          `json:"actor"`
	File     string          `json:"file"`
	Manifest json.RawMessage `json:"manifest"`
}

// ConflictError reports a module version the store holds with other
// content than the bundle's.
type ConflictError struct {
	Module module.Version
	What   string // "zip" or "go.mod"
	Store  string // hash in the store
	Bundle string // hash in the bundle
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: the store holds this version with a different %s (store %s, bundle %s); nothing was imported — a module version must never change, find out which copy is genuine",
		e.Module, e.What, e.Store, e.Bundle)
}

// Import verifies the bundle file and adds it to the store.
func Import(ctx context.Context, st *store.Disk, bundleFile string, opts Options) (*Result, error) {
	unlock, err := lockStore(st)
	if err != nil {
		return nil, err
	}
	defer unlock()

	digest, err := fileDigest(bundleFile)
	if err != nil {
		return nil, err
	}
	res := &Result{Digest: digest}
	recName := "bundles/" + digest + ".json"
	if ok, err := store.Exists(ctx, st, recName); err != nil {
		return nil, err
	} else if ok {
		res.AlreadyImported = true
		return res, nil
	}

	stageDir := filepath.Join(st.Root(), "staging", randomName())
	defer os.RemoveAll(stageDir)
	stage, err := bundle.NewDirStage(stageDir)
	if err != nil {
		return nil, err
	}
	defer stage.Close()
	stage.Sync = true
	f, err := os.Open(bundleFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var manifestBytes []byte
	verify := opts.Verify
	if verify != nil {
		verify = func(m, sig []byte) error {
			manifestBytes = bytes.Clone(m)
			return opts.Verify(m, sig)
		}
	}
	m, err := bundle.Read(ctx, f, bundle.ReadOptions{Verify: verify, AllowUnsigned: opts.AllowUnsigned, Stage: stage})
	if err != nil {
		return nil, err
	}
	res.Manifest = m
	if manifestBytes == nil {
		manifestBytes, _ = m.Marshal()
	}

	// Check everything against the store before writing anything.
	repo := &modules.Repo{Store: st}
	type todo struct {
		mod bundle.Module
	}
	var work []todo
	for _, mod := range m.Modules {
		v := mod.ModuleVersion()
		present, err := compare(ctx, st, mod)
		if err != nil {
			return nil, err
		}
		if present {
			res.Present = append(res.Present, v)
			continue
		}
		work = append(work, todo{mod: mod})
	}

	// Checksum-database proofs first: a bundle whose proofs cannot join
	// the store's log is refused before any module is committed.
	if err := importSumDB(ctx, st, m, stage, opts.ModCache); err != nil {
		return nil, err
	}

	touched := map[string]bool{}
	for _, w := range work {
		v := w.mod.ModuleVersion()
		kinds := []modules.Kind{modules.Mod}
		if w.mod.ZipHash != "" {
			kinds = append(kinds, modules.Zip)
		}
		kinds = append(kinds, modules.Info)
		for _, k := range kinds {
			member, err := bundle.DownloadPath(v, "."+string(k))
			if err != nil {
				return nil, err
			}
			local, err := stage.LocalPath(member)
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(local); errors.Is(err, fs.ErrNotExist) && k == modules.Info {
				continue // a go.mod-only version without .info
			}
			if k == modules.Info && w.mod.ZipHash != "" {
				// .ziphash just before .info, which publishes the version.
				zh, _ := modules.Name(v, modules.ZipHash)
				if opts.CommitHook != nil {
					opts.CommitHook(zh)
				}
				if err := st.Put(ctx, zh, strings.NewReader(w.mod.ZipHash+"\n")); err != nil {
					return nil, err
				}
			}
			name, _ := modules.Name(v, k)
			if opts.CommitHook != nil {
				opts.CommitHook(name)
			}
			if fi, err := os.Stat(local); err == nil {
				res.Bytes += fi.Size()
			}
			if err := st.MoveFile(ctx, name, local); err != nil {
				return nil, fmt.Errorf("committing %s: %w", name, err)
			}
			res.Files++
		}
		res.Added = append(res.Added, v)
		touched[v.Path] = true
	}
	paths := make([]string, 0, len(touched))
	for p := range touched {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if err := repo.WriteList(ctx, p); err != nil {
			return nil, err
		}
	}

	rec := Record{Digest: digest, Imported: time.Now().UTC(), Actor: opts.Actor, File: filepath.Base(bundleFile), Manifest: manifestBytes}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	if opts.CommitHook != nil {
		opts.CommitHook(recName)
	}
	if err := st.Put(ctx, recName, bytes.NewReader(append(b, '\n'))); err != nil {
		return nil, err
	}
	return res, nil
}

// compare reports whether the store holds mod already with the same
// content, and fails with a *ConflictError if it holds other content.
func compare(ctx context.Context, st store.Store, mod bundle.Module) (bool, error) {
	v := mod.ModuleVersion()
	modName, _ := modules.Name(v, modules.Mod)
	have, err := store.ReadAll(ctx, st, modName)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if h := bundle.HashMod(have); h != mod.ModHash {
		return false, &ConflictError{Module: v, What: "go.mod", Store: h, Bundle: mod.ModHash}
	}
	if mod.ZipHash == "" {
		return true, nil
	}
	zhName, _ := modules.Name(v, modules.ZipHash)
	zh, err := store.ReadAll(ctx, st, zhName)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // only the go.mod so far
	}
	if err != nil {
		return false, err
	}
	if h := strings.TrimSpace(string(zh)); h != mod.ZipHash {
		return false, &ConflictError{Module: v, What: "zip", Store: h, Bundle: mod.ZipHash}
	}
	infoName, _ := modules.Name(v, modules.Info)
	return store.Exists(ctx, st, infoName)
}

func fileDigest(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func randomName() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lockStore takes the store's import lock, so that two imports never
// interleave their commits.
func lockStore(st *store.Disk) (func(), error) {
	f, err := os.OpenFile(filepath.Join(st.Root(), "import.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the store: %w", err)
	}
	// A crashed import may have left staging directories; nothing reads
	// them, and under the lock no import is using them.
	os.RemoveAll(filepath.Join(st.Root(), "staging"))
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
