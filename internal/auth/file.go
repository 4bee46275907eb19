package auth

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/modferry/modferry/internal/safefile"
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

// stamp identifies one version of tokens.json. Every write replaces the
// file by rename, so the inode alone changes each time; size and mtime are
// checked too in case something edits it in place.
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

// readFile reads and checks tokens.json; a missing file has no tokens.
func readFile(path string) (fileData, stamp, error) {
	// Stat first: if the file changes between the stat and the read, the
	// next check sees a newer stamp and reads again.
	st, err := statStamp(path)
	if err != nil {
		return fileData{}, st, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileData{Version: formatVersion}, stamp{}, nil
	}
	if err != nil {
		return fileData{}, st, err
	}
	var d fileData
	if err := json.Unmarshal(b, &d); err != nil {
		return fileData{}, st, fmt.Errorf("%s: %w", path, err)
	}
	if d.Version != formatVersion {
		return fileData{}, st, fmt.Errorf("%s: unsupported version %d", path, d.Version)
	}
	names := map[string]bool{}
	for _, r := range d.Tokens {
		if err := checkName(r.Name); err != nil || names[r.Name] {
			return fileData{}, st, fmt.Errorf("%s: bad or repeated token name %q", path, r.Name)
		}
		names[r.Name] = true
		if h, err := hex.DecodeString(r.SHA256); err != nil || len(h) != 32 {
			return fileData{}, st, fmt.Errorf("%s: token %q: bad sha256", path, r.Name)
		}
		if _, err := normalizeScopes(r.Scopes); err != nil {
			return fileData{}, st, fmt.Errorf("%s: token %q: %v", path, r.Name, err)
		}
	}
	return d, st, nil
}

// writeFile replaces tokens.json atomically and returns its new stamp.
func writeFile(path string, d fileData) (stamp, error) {
	b, err := json.MarshalIndent(d, "", "\t")
	if err != nil {
		return stamp{}, err
	}
	if err := safefile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return stamp{}, err
	}
	return statStamp(path)
}
