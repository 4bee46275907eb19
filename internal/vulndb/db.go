package vulndb

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// ModulePath is the module whose zip holds the Go vulnerability database
// as OSV files under data/osv/.
const ModulePath = "golang.org/x/vulndb"

// Names of the index files.
const (
	DBIndex      = "index/db.json"
	ModulesIndex = "index/modules.json"
	VulnsIndex   = "index/vulns.json"
)

// EntryName returns the file name of the entry id.
func EntryName(id string) string { return "ID/" + id + ".json" }

// A DB is a converted database, held in memory (the real one is ~20 MB).
type DB struct {
	// Modified is the newest entry's modified time.
	Modified time.Time
	entries  map[string]*Entry   // by ID
	raw      map[string][]byte   // by ID: the stored entry
	byModule map[string][]string // module path -> IDs, built by Findings
}

// Len reports the number of entries.
func (db *DB) Len() int { return len(db.entries) }

// Entry returns the entry id, or nil.
func (db *DB) Entry(id string) *Entry { return db.entries[id] }

// Files returns every file of the layout, by name.
func (db *DB) Files() (map[string][]byte, error) {
	if db.raw == nil && len(db.entries) > 0 {
		return nil, errors.New("vulndb: Files of a database loaded for lookups only")
	}
	files := make(map[string][]byte, len(db.raw)+3)
	for id, data := range db.raw {
		files[EntryName(id)] = data
	}
	idx, err := db.indexes()
	if err != nil {
		return nil, err
	}
	for name, data := range idx {
		files[name] = data
	}
	return files, nil
}

// Index file formats (see the package documentation).
type (
	dbMeta struct {
		Modified time.Time `json:"modified"`
	}
	moduleMeta struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Fixed    string    `json:"fixed,omitempty"`
	}
	vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
)

// indexes computes the three index files from the entries.
func (db *DB) indexes() (map[string][]byte, error) {
	ids := db.ids()
	byModule := map[string]*moduleMeta{}
	vulns := make([]vulnMeta, 0, len(ids))
	for _, id := range ids {
		e := db.entries[id]
		vulns = append(vulns, vulnMeta{ID: id, Modified: e.Modified.UTC(), Aliases: e.Aliases})
		seen := map[string]bool{}
		for _, a := range e.Affected {
			p := a.Package.Name
			if seen[p] {
				continue
			}
			seen[p] = true
			m := byModule[p]
			if m == nil {
				m = &moduleMeta{Path: p}
				byModule[p] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: id, Modified: e.Modified.UTC(), Fixed: e.fixedFor(p)})
		}
	}
	mods := make([]*moduleMeta, 0, len(byModule))
	for _, m := range byModule {
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	out := map[string][]byte{}
	for name, v := range map[string]any{
		DBIndex:      dbMeta{Modified: db.Modified.UTC()},
		ModulesIndex: mods,
		VulnsIndex:   vulns,
	} {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[name] = data
	}
	return out, nil
}

func (db *DB) ids() []string {
	ids := make([]string, 0, len(db.entries))
	for id := range db.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// add adds a checked entry and its stored form.
func (db *DB) add(e *Entry, raw []byte) error {
	if db.entries == nil {
		db.entries, db.raw = map[string]*Entry{}, map[string][]byte{}
	}
	if _, dup := db.entries[e.ID]; dup {
		return fmt.Errorf("%w: entry %s appears twice", ErrInvalid, e.ID)
	}
	db.entries[e.ID], db.raw[e.ID] = e, raw
	if e.Modified.After(db.Modified) {
		db.Modified = e.Modified
	}
	return nil
}

// FromModuleZip converts the OSV files data/osv/*.json in the zip of the
// module version v (golang.org/x/vulndb or a mirror of it) whose .info
// time is when. Entries with no modified time get when.
func FromModuleZip(zipFile string, v module.Version, when time.Time) (*DB, error) {
	zr, err := zip.OpenReader(zipFile)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	prefix := v.Path + "@" + v.Version + "/data/osv/"
	db := &DB{}
	for _, f := range zr.File {
		rest, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || strings.Contains(rest, "/") || path.Ext(rest) != ".json" {
			continue
		}
		if f.UncompressedSize64 > maxEntrySize {
			return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, f.Name, maxEntrySize)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxEntrySize+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		id := strings.TrimSuffix(rest, ".json")
		e, err := decodeEntry(id, data)
		if err != nil {
			return nil, err
		}
		raw, err := normalize(data, e, when)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if err := db.add(e, raw); err != nil {
			return nil, err
		}
	}
	if db.Len() == 0 {
		return nil, fmt.Errorf("%w: %s holds no data/osv/*.json entries", ErrInvalid, v)
	}
	return db, nil
}

// normalize returns the stored form of a source entry: compact, keys
// sorted, a zero modified time replaced by when (also in e).
func normalize(data []byte, e *Entry, when time.Time) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	if e.Modified.IsZero() {
		e.Modified = when.UTC().Truncate(time.Second)
		t, err := json.Marshal(e.Modified)
		if err != nil {
			return nil, err
		}
		obj["modified"] = t
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Check reads a database layout: names lists every file (paths relative
// to the database root) and read returns one. Every entry must be valid
// and stored under its ID, and the indexes must be exactly the ones the
// entries give. Errors match ErrInvalid, except read's own.
func Check(names []string, read func(name string) ([]byte, error)) (*DB, error) {
	db := &DB{}
	have := map[string]bool{}
	for _, name := range names {
		if err := CheckName(name); err != nil {
			return nil, err
		}
		have[name] = true
		id, ok := entryID(name)
		if !ok {
			continue
		}
		data, err := read(name)
		if err != nil {
			return nil, err
		}
		e, err := ParseEntry(id, data)
		if err != nil {
			return nil, err
		}
		if err := db.add(e, data); err != nil {
			return nil, err
		}
	}
	want, err := db.indexes()
	if err != nil {
		return nil, err
	}
	for name, data := range want {
		if !have[name] {
			return nil, fmt.Errorf("%w: %s is missing", ErrInvalid, name)
		}
		got, err := read(name)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(got, data) {
			return nil, fmt.Errorf("%w: %s does not match the entries", ErrInvalid, name)
		}
	}
	return db, nil
}

// CheckName reports whether name is a file of the layout: one of the
// three indexes or ID/<id>.json with a valid id.
func CheckName(name string) error {
	switch name {
	case DBIndex, ModulesIndex, VulnsIndex:
		return nil
	}
	if _, ok := entryID(name); ok {
		return nil
	}
	return fmt.Errorf("%w: %q is not a file of the database layout", ErrInvalid, name)
}

// entryID returns the ID of an entry file name.
func entryID(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "ID/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, ".json")
	return id, ok && ValidID(id)
}
