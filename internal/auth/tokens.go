package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modferry/modferry/internal/safefile"
)

// File names inside the tokens directory.
const (
	TokensFile = "tokens.json"
	LockFile   = "lock"
)

// SecretPrefix starts every token secret.
const SecretPrefix = "mf_"

// secretBytes is the entropy of a secret; secretLen its length as text.
const (
	secretBytes = 32
	secretLen   = len(SecretPrefix) + (secretBytes*8+5)/6
)

// How often Authenticate looks for changes to the tokens file, and how
// often it writes last-use times back.
const (
	checkEvery = time.Second
	flushEvery = time.Minute
	// reloadTimeout bounds one look at the document.
	reloadTimeout = 10 * time.Second
)

var (
	// ErrUnknownToken: no token has this secret (or it was revoked).
	ErrUnknownToken = errors.New("unknown token")
	// ErrExpired: the token exists but its expiry time has passed.
	ErrExpired = errors.New("token expired")
	// ErrExists: Add was given a name already in use.
	ErrExists = errors.New("token name already in use")
	// ErrNotFound: Revoke was given a name with no token. It matches
	// fs.ErrNotExist too.
	ErrNotFound = fmt.Errorf("no such token: %w", fs.ErrNotExist)
)

// Info describes a token. It never holds the secret or its hash.
type Info struct {
	Name     string    `json:"name"`
	Scopes   []Scope   `json:"scopes"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`  // zero: never
	LastUsed time.Time `json:"lastUsed,omitzero"` // zero: never used; may lag by up to a minute across processes
}

// Has reports whether the token carries scope s.
func (i Info) Has(s Scope) bool { return slices.Contains(i.Scopes, s) }

// Tokens is the set of tokens kept in one Doc (Open: one directory). It
// is safe for concurrent use, and several Tokens values, in this process
// or others, may use the same Doc at once.
type Tokens struct {
	doc   Doc
	where string // names the document in errors

	now        func() time.Time // for tests
	checkEvery time.Duration    // for tests

	snap      atomic.Pointer[snapshot]
	nextCheck atomic.Int64 // UnixNano of the next look at the file
	reloadMu  sync.Mutex   // serializes building and installing snapshots

	lastFlush atomic.Int64 // UnixNano of the last start of a last-use flush
	flushing  atomic.Bool
	closed    atomic.Bool
	wg        sync.WaitGroup
}

// snapshot is an immutable in-memory copy of the tokens file, apart from
// each record's in-memory last-use time.
type snapshot struct {
	byHash  map[[sha256.Size]byte]*record
	list    []*record // sorted by name
	version string    // the Doc's
	err     error     // the file could not be read: refuse every token
}

type record struct {
	info     Info // Info.LastUsed as in the file
	hash     [sha256.Size]byte
	saved    int64        // info.LastUsed as UnixNano, 0 if never
	lastUsed atomic.Int64 // UnixNano, in memory; >= saved
}

func (r *record) publicInfo() Info {
	i := r.info
	i.Scopes = slices.Clone(i.Scopes)
	if n := r.lastUsed.Load(); n != 0 {
		i.LastUsed = time.Unix(0, n).UTC()
	}
	return i
}

// Open opens the tokens kept in dir, creating dir (0700) and its lock file
// if needed, and reads the tokens file.
func Open(dir string) (*Tokens, error) {
	// A read-only store has its tokens read-only too (see
	// safefile.OpenDirLock): they are checked, never changed.
	if err := os.MkdirAll(dir, 0o700); err != nil && !safefile.IsReadOnly(err) {
		return nil, fmt.Errorf("auth: %w", err)
	}
	l, err := safefile.OpenDirLock(filepath.Join(dir, LockFile))
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	path := filepath.Join(dir, TokensFile)
	t, err := OpenDoc(&fileDoc{path: path, lock: l}, path)
	if err != nil {
		l.Close()
		return nil, err
	}
	return t, nil
}

// OpenDoc opens the tokens kept in doc and reads them; where names doc
// in error messages. If doc has a Close method, Close calls it.
func OpenDoc(doc Doc, where string) (*Tokens, error) {
	t := &Tokens{doc: doc, where: where, now: time.Now, checkEvery: checkEvery}
	t.snap.Store(&snapshot{})
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// SetClock makes t read the time from now instead of time.Now: when a
// token expires, when it was created and last used, and when to look at
// the tokens file again. It is for tests, and must be called before t is
// used.
func (t *Tokens) SetClock(now func() time.Time) {
	t.now = now
	t.nextCheck.Store(0)
}

// Close writes pending last-use times back and releases the lock file
// (the Doc's Close, if it has one). The Tokens must not be used
// afterwards.
func (t *Tokens) Close() error {
	t.closed.Store(true)
	t.wg.Wait()
	err := t.Flush(context.Background())
	if c, ok := t.doc.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Add creates a token and returns its secret, which is shown to the user
// once and stored nowhere (only its SHA-256 is). name must be unique, of
// 1 to 64 characters from [a-z0-9._-], starting with a letter or digit.
// scopes must not be empty. A zero expires means the token never expires.
func (t *Tokens) Add(name string, scopes []Scope, expires time.Time) (secret string, err error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("auth: add: %w", err)
	}
	scopes, err = normalizeScopes(scopes)
	if err != nil {
		return "", fmt.Errorf("auth: add %q: %w", name, err)
	}
	now := t.now().UTC().Round(0)
	if !expires.IsZero() && !expires.After(now) {
		return "", fmt.Errorf("auth: add %q: expiry %v is not in the future", name, expires)
	}
	secret = newSecret()
	sum := sha256.Sum256([]byte(secret))
	err = t.update(func(d *fileData) error {
		for _, r := range d.Tokens {
			if r.Name == name {
				return ErrExists
			}
		}
		d.Tokens = append(d.Tokens, fileRecord{
			Name: name, SHA256: hex.EncodeToString(sum[:]), Scopes: scopes,
			Created: now, Expires: expires.UTC().Round(0),
		})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("auth: add %q: %w", name, err)
	}
	return secret, nil
}

// Revoke deletes the token called name. It takes effect at once in this
// Tokens and within a second in others using the same directory.
func (t *Tokens) Revoke(name string) error {
	err := t.update(func(d *fileData) error {
		i := slices.IndexFunc(d.Tokens, func(r fileRecord) bool { return r.Name == name })
		if i < 0 {
			return ErrNotFound
		}
		d.Tokens = slices.Delete(d.Tokens, i, i+1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: revoke %q: %w", name, err)
	}
	return nil
}

// List returns every token, sorted by name, after looking for changes made
// by others.
func (t *Tokens) List() ([]Info, error) {
	if err := t.Reload(); err != nil {
		return nil, err
	}
	s := t.snap.Load()
	out := make([]Info, len(s.list))
	for i, r := range s.list {
		out[i] = r.publicInfo()
	}
	return out, nil
}

// Count returns the number of tokens, expired ones included. Like
// Authenticate, it sees changes made by others within a second.
func (t *Tokens) Count() int {
	t.maybeReload(t.now())
	return len(t.snap.Load().list)
}

// None reports whether there are no tokens at all: the tokens document was
// read and lists none (a server without tokens is open for reading). A
// document that cannot be read now is not "none": its tokens are unknown,
// and like Authenticate the answer fails closed.
func (t *Tokens) None() bool {
	t.maybeReload(t.now())
	s := t.snap.Load()
	return s.err == nil && len(s.list) == 0
}

// Authenticate returns the token whose secret this is. It fails with
// ErrUnknownToken if there is none, and with ErrExpired, together with the
// token's Info, if it has expired. Any other error means the tokens file
// could not be read; every token is then refused until it can be.
//
// It is cheap enough to call on every request: no file access except a
// stat at most once a second, and no write.
func (t *Tokens) Authenticate(secret string) (Info, error) {
	now := t.now()
	t.maybeReload(now)
	s := t.snap.Load()
	if s.err != nil {
		return Info{}, fmt.Errorf("auth: tokens unavailable: %w", s.err)
	}
	if len(secret) != secretLen || !strings.HasPrefix(secret, SecretPrefix) {
		return Info{}, ErrUnknownToken
	}
	var buf [secretLen]byte
	copy(buf[:], secret)
	sum := sha256.Sum256(buf[:])
	r := s.byHash[sum]
	if r == nil || subtle.ConstantTimeCompare(r.hash[:], sum[:]) != 1 {
		return Info{}, ErrUnknownToken
	}
	if !r.info.Expires.IsZero() && !now.Before(r.info.Expires) {
		return r.publicInfo(), ErrExpired
	}
	t.used(r, now)
	return r.publicInfo(), nil
}

// used records a use of r in memory and, at most once a minute, starts
// writing last-use times back to the file in the background.
func (t *Tokens) used(r *record, now time.Time) {
	n := now.UnixNano()
	if n-r.lastUsed.Load() >= int64(time.Second) {
		r.lastUsed.Store(n)
	}
	if n-r.saved < int64(flushEvery) || n-t.lastFlush.Load() < int64(flushEvery) {
		return
	}
	if t.closed.Load() || !t.flushing.CompareAndSwap(false, true) {
		return
	}
	t.lastFlush.Store(n)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer t.flushing.Store(false)
		_ = t.Flush(context.Background()) // retried a minute later
	}()
}

// Flush writes last-use times newer than the file's back to it. It is
// called in the background at most once a minute, and by Close.
func (t *Tokens) Flush(ctx context.Context) error {
	s := t.snap.Load()
	newer := map[string]time.Time{}
	for _, r := range s.list {
		n := r.lastUsed.Load()
		if n-r.saved >= int64(time.Second) {
			newer[r.info.Name+"\x00"+hex.EncodeToString(r.hash[:])] = time.Unix(0, n).UTC()
		}
	}
	if len(newer) == 0 {
		return nil
	}
	err := t.updateCtx(ctx, func(d *fileData) error {
		changed := false
		for i := range d.Tokens {
			r := &d.Tokens[i]
			if u, ok := newer[r.Name+"\x00"+r.SHA256]; ok && u.After(r.LastUsed) {
				r.LastUsed, changed = u, true
			}
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return fmt.Errorf("auth: writing last-use times: %w", err)
	}
	return nil
}

var errNoChange = errors.New("no change")

// maxUpdateTries bounds the rounds of read, change and conditional
// replace of one update that lose to other writers: each round some
// writer wins, so only a crowd of writers at once reaches it.
const maxUpdateTries = 64

// update applies change to the tokens document (read it, change it,
// replace it if nobody replaced it meanwhile, else again), then installs
// the result as the in-memory copy.
func (t *Tokens) update(change func(*fileData) error) error {
	return t.updateCtx(context.Background(), change)
}

func (t *Tokens) updateCtx(ctx context.Context, change func(*fileData) error) error {
	for range maxUpdateTries {
		before := t.snap.Load()
		b, version, err := t.doc.Read(ctx)
		if err != nil {
			return err
		}
		d, err := decode(b, t.where)
		if err != nil {
			return err
		}
		if err := change(&d); err != nil {
			return err
		}
		d.Version = formatVersion
		slices.SortFunc(d.Tokens, func(a, b fileRecord) int { return strings.Compare(a.Name, b.Name) })
		out, err := encode(d)
		if err != nil {
			return err
		}
		version, err = t.doc.Replace(ctx, out, version)
		if errors.Is(err, ErrChanged) {
			continue
		}
		if err != nil {
			return err
		}
		t.reloadMu.Lock()
		defer t.reloadMu.Unlock()
		if t.snap.Load() != before {
			// A reload installed what it read while this update ran,
			// perhaps a change made after this write (the file spoiled,
			// another process's update): this write's copy would undo
			// it, so the file is read again instead.
			_ = t.reloadLocked() // the error is kept in the snapshot
			return nil
		}
		t.install(d, version, nil)
		return nil
	}
	return fmt.Errorf("%s: %w %d times in a row", t.where, ErrChanged, maxUpdateTries)
}

// Reload looks at the tokens file now and rereads it if it changed.
// Authenticate does this by itself at most once a second.
func (t *Tokens) Reload() error {
	t.nextCheck.Store(t.now().UnixNano() + int64(t.checkEvery))
	return t.reloadIfChanged()
}

func (t *Tokens) maybeReload(now time.Time) {
	n := now.UnixNano()
	next := t.nextCheck.Load()
	if n < next || !t.nextCheck.CompareAndSwap(next, n+int64(t.checkEvery)) {
		return
	}
	_ = t.reloadIfChanged() // the error is kept in the snapshot
}

// A docVersioner is a Doc that can tell its version without being read
// (StoreDoc on a VersionStater); an error (errors.ErrUnsupported, say)
// makes Tokens read it instead.
type docVersioner interface {
	Version(ctx context.Context) (string, error)
}

func (t *Tokens) reloadIfChanged() error {
	t.reloadMu.Lock()
	defer t.reloadMu.Unlock()
	return t.reloadLocked()
}

// reloadLocked is reloadIfChanged with reloadMu held.
func (t *Tokens) reloadLocked() error {
	old := t.snap.Load()
	// A document in an object store that hangs must not hold the
	// request that happens to look at it for longer than this.
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	if v, ok := t.doc.(docVersioner); ok && old.err == nil && old.byHash != nil {
		// A cheap look first: read only when the version changed.
		if version, err := v.Version(ctx); err == nil && version == old.version {
			return nil
		}
	}
	b, version, err := t.doc.Read(ctx)
	if err == nil && version == old.version && old.err == nil && old.byHash != nil {
		return nil
	}
	var d fileData
	if err == nil {
		d, err = decode(b, t.where)
	}
	if err != nil {
		err = fmt.Errorf("auth: reading tokens: %w", err)
	}
	t.install(d, version, err)
	return err
}

// install makes d the in-memory copy, keeping in-memory last-use times
// newer than the file's. A non-nil err installs a copy that refuses every
// token (fail closed). Called with reloadMu held.
func (t *Tokens) install(d fileData, version string, err error) {
	old := t.snap.Load()
	s := &snapshot{byHash: map[[sha256.Size]byte]*record{}, version: version, err: err}
	if err != nil {
		s.version = "" // look again at the next check
		t.snap.Store(s)
		return
	}
	oldByName := map[string]*record{}
	for _, r := range old.list {
		oldByName[r.info.Name] = r
	}
	for _, fr := range d.Tokens {
		r := &record{info: Info{Name: fr.Name, Scopes: fr.Scopes, Created: fr.Created, Expires: fr.Expires, LastUsed: fr.LastUsed}}
		hex.Decode(r.hash[:], []byte(fr.SHA256))
		if !fr.LastUsed.IsZero() {
			r.saved = fr.LastUsed.UnixNano()
		}
		r.lastUsed.Store(r.saved)
		if o := oldByName[fr.Name]; o != nil && o.hash == r.hash && o.lastUsed.Load() > r.lastUsed.Load() {
			r.lastUsed.Store(o.lastUsed.Load())
		}
		s.byHash[r.hash] = r
		s.list = append(s.list, r)
	}
	slices.SortFunc(s.list, func(a, b *record) int { return strings.Compare(a.info.Name, b.info.Name) })
	t.snap.Store(s)
}

// newSecret returns a fresh secret: SecretPrefix and 32 random bytes in
// unpadded base64url.
func newSecret() string {
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// checkName checks a token name: 1 to 64 of [a-z0-9._-], starting with a
// letter or digit.
func checkName(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return fmt.Errorf("token name %q: want 1 to 64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("token name %q: want [a-z0-9._-], starting with a letter or digit", name)
		}
	}
	return nil
}
