package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/modferry/modferry/internal/safefile"
	"github.com/modferry/modferry/internal/store"
)

// formatVersion is the version of tokens.json this package writes.
const formatVersion = 1

// fileData is tokens.json.
type fileData struct {
	Version int          `json:"version"`
	Tokens  []fileRecord `json:"tokens"`
}

type fileRecord struct {
	Name     string    `json:"name"`
	SHA256   string    `json:"sha256"` // hex SHA-256 of the secret
	Scopes   []Scope   `json:"scopes"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// ErrChanged is returned by Doc.Replace when the document is no longer
// the version the caller read.
var ErrChanged = errors.New("the tokens document changed since it was read")

// A Doc is where a Tokens keeps tokens.json: one small document, read
// whole with its version and replaced whole only if nobody replaced it
// since (optimistic concurrency), so that several processes, or several
// servers sharing one store, keep one set of tokens with no lock server.
// Open's Doc is the file DIR/tokens.json (fileDoc); a store kept in an
// object store provides one with a conditional write (S3: If-Match on the
// ETag, If-None-Match: * for the first).
type Doc interface {
	// Read returns the document and its version, an opaque string that
	// changes whenever the content does. A missing document is no
	// error: it reads as nil data and version "". Tokens calls Read at
	// most once a second on its hot path, so Read should be cheap when
	// nothing changed.
	Read(ctx context.Context) (data []byte, version string, err error)
	// Replace writes data atomically if the document's version is still
	// version ("" for a document that does not exist yet), and returns
	// the new version. Otherwise it changes nothing and returns an error
	// matching ErrChanged.
	Replace(ctx context.Context, data []byte, version string) (newVersion string, err error)
}

// stamp identifies one version of tokens.json on disk cheaply. Every
// write replaces the file by rename, so the inode alone changes each
// time; size and mtime are checked too in case something edits it in
// place.
type stamp struct {
	exists bool
	ino    uint64
	size   int64
	mtime  int64
}

func statStamp(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stamp{}, nil
	}
	if err != nil {
		return stamp{}, err
	}
	s := stamp{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	s.ino = inode(fi)
	return s, nil
}

// fileDoc is a Doc in a local file. A version is the hex SHA-256 of the
// content. Read stats the file and reads it only when its stamp changed;
// Replace compares the content with the version under an exclusive lock
// on the directory's lock file (package safefile), so that no update is
// lost, and replaces the file atomically (temporary file, fsync, rename).
type fileDoc struct {
	path string
	lock *safefile.DirLock

	mu      sync.Mutex // guards the cache
	stamp   stamp
	data    []byte
	version string
}

func contentVersion(b []byte) string {
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Read implements Doc.
func (f *fileDoc) Read(ctx context.Context) ([]byte, string, error) {
	// Stat first: if the file changes between the stat and the read, the
	// next Read sees a newer stamp and reads again.
	st, err := statStamp(f.path)
	if err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == f.stamp && f.version != "" {
		return f.data, f.version, nil
	}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	f.stamp, f.data, f.version = st, b, contentVersion(b)
	return b, f.version, nil
}

// Replace implements Doc.
func (f *fileDoc) Replace(ctx context.Context, data []byte, version string) (string, error) {
	unlock, err := f.lock.Lock(ctx, true)
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		cur, err = nil, nil
	}
	if err != nil {
		return "", err
	}
	if contentVersion(cur) != version {
		return "", ErrChanged
	}
	if err := safefile.WriteFile(f.path, data, 0o600); err != nil {
		return "", err
	}
	st, err := statStamp(f.path)
	if err != nil {
		return "", err
	}
	version = contentVersion(data)
	f.mu.Lock()
	f.stamp, f.data, f.version = st, bytes.Clone(data), version
	f.mu.Unlock()
	return version, nil
}

// Close releases the lock file.
func (f *fileDoc) Close() error { return f.lock.Close() }

// decode parses and checks tokens.json as read from where; nil data (no
// document) has no tokens.
func decode(b []byte, where string) (fileData, error) {
	if b == nil {
		return fileData{Version: formatVersion}, nil
	}
	var d fileData
	if err := json.Unmarshal(b, &d); err != nil {
		return fileData{}, fmt.Errorf("%s: %w", where, err)
	}
	if d.Version != formatVersion {
		return fileData{}, fmt.Errorf("%s: unsupported version %d", where, d.Version)
	}
	names := map[string]bool{}
	for _, r := range d.Tokens {
		if err := checkName(r.Name); err != nil || names[r.Name] {
			return fileData{}, fmt.Errorf("%s: bad or repeated token name %q", where, r.Name)
		}
		names[r.Name] = true
		if h, err := hex.DecodeString(r.SHA256); err != nil || len(h) != 32 {
			return fileData{}, fmt.Errorf("%s: token %q: bad sha256", where, r.Name)
		}
		if _, err := normalizeScopes(r.Scopes); err != nil {
			return fileData{}, fmt.Errorf("%s: token %q: %v", where, r.Name, err)
		}
	}
	return d, nil
}

// encode returns tokens.json as written.
func encode(d fileData) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// StoreDoc is a Doc kept as one object of a store that can compare and
// swap (store.Mem, S3; Disk too): Read is Get, Replace is PutIf.
type StoreDoc struct {
	Store store.CompareAndSwapper
	Name  string // e.g. "tokens/tokens.json"
}

// Read implements Doc.
func (d StoreDoc) Read(ctx context.Context) ([]byte, string, error) {
	b, version, err := d.Store.Get(ctx, d.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	return b, version, err
}

// A VersionStater tells the version of an object without reading it (S3:
// HeadObject), so that polling for changes costs no transfer.
type VersionStater interface {
	StatVersion(ctx context.Context, name string) (string, error)
}

// Version returns the document's version as Read would ("" for a missing
// document) without reading it, if the store is a VersionStater; else an
// error matching errors.ErrUnsupported. Tokens polls it instead of Read.
func (d StoreDoc) Version(ctx context.Context) (string, error) {
	vs, ok := d.Store.(VersionStater)
	if !ok {
		return "", errors.ErrUnsupported
	}
	v, err := vs.StatVersion(ctx, d.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return v, err
}

// Replace implements Doc.
func (d StoreDoc) Replace(ctx context.Context, data []byte, version string) (string, error) {
	v, err := d.Store.PutIf(ctx, d.Name, bytes.NewReader(data), version)
	if errors.Is(err, store.ErrChanged) {
		return "", fmt.Errorf("%w: %w", ErrChanged, err)
	}
	return v, err
}
