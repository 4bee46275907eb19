package vulndb

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/modferry/modferry/internal/store"
)

// Root is the store directory of the database; see the package
// documentation.
const Root = "vulndb"

// currentName is the store object naming the copy in use.
const currentName = Root + "/current"

// ErrNone is matched (with errors.Is, as is fs.ErrNotExist) when a store
// holds no database.
var ErrNone = fmt.Errorf("the store holds no vulnerability database: %w", fs.ErrNotExist)

// current returns the store directory of the copy in use.
func current(ctx context.Context, st store.Store) (string, error) {
	data, err := store.ReadAll(ctx, st, currentName)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNone
	}
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(string(data))
	if !strings.HasPrefix(dir, Root+"/") || store.CheckName(dir) != nil || strings.Count(dir, "/") != 1 {
		return "", fmt.Errorf("%w: %s names %q", ErrInvalid, currentName, dir)
	}
	return dir, nil
}

// Modified returns the modified time of the store's database; an error
// matching ErrNone if it has none.
func Modified(ctx context.Context, st store.Store) (time.Time, error) {
	dir, err := current(ctx, st)
	if err != nil {
		return time.Time{}, err
	}
	data, err := store.ReadAll(ctx, st, dir+"/"+DBIndex)
	if err != nil {
		return time.Time{}, err
	}
	var m dbMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %v", ErrInvalid, DBIndex, err)
	}
	return m.Modified, nil
}

// Install makes db the store's database if it is newer than the one held
// (by modified time), and reports whether it did. The copy is written
// whole before vulndb/current switches to it in one atomic write; the old
// copy is removed afterwards.
func Install(ctx context.Context, st store.Store, db *DB) (bool, error) {
	old, err := current(ctx, st)
	if err != nil && !errors.Is(err, ErrNone) {
		return false, err
	}
	if old != "" {
		have, err := Modified(ctx, st)
		if err != nil {
			return false, err
		}
		if !db.Modified.After(have) {
			return false, nil
		}
	}
	files, err := db.Files()
	if err != nil {
		return false, err
	}
	dir := Root + "/" + db.Modified.UTC().Format("20060102T150405.000000000Z")
	if dir == old {
		return false, nil
	}
	objs := make([]store.Object, 0, len(files))
	for _, name := range sortedNames(files) {
		objs = append(objs, store.Object{Name: dir + "/" + name, Data: files[name]})
	}
	if err := store.WriteBatch(ctx, st, objs); err != nil {
		return false, err
	}
	if err := st.Put(ctx, currentName, strings.NewReader(dir+"\n")); err != nil {
		return false, err
	}
	if old != "" {
		if err := removeTree(ctx, st, old); err != nil {
			return true, fmt.Errorf("removing the old database copy %s: %w", old, err)
		}
	}
	return true, nil
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	// Entries first, indexes last: a reader of a half-written copy (none
	// should look before current switches) never sees an index naming a
	// missing entry.
	slices.SortFunc(names, func(a, b string) int {
		ai, bi := strings.HasPrefix(a, "index/"), strings.HasPrefix(b, "index/")
		switch {
		case ai && !bi:
			return 1
		case bi && !ai:
			return -1
		}
		return strings.Compare(a, b)
	})
	return names
}

func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// removeTree deletes every object under dir.
func removeTree(ctx context.Context, st store.Store, dir string) error {
	names, err := st.List(ctx, dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if sub, ok := strings.CutSuffix(n, "/"); ok {
			if err := removeTree(ctx, st, dir+"/"+sub); err != nil {
				return err
			}
			continue
		}
		if err := st.Delete(ctx, dir+"/"+n); err != nil {
			return err
		}
	}
	return nil
}

// Load reads and checks the store's database.
func Load(ctx context.Context, st store.Store) (*DB, error) {
	dir, err := current(ctx, st)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, sub := range []string{"index", "ID"} {
		list, err := st.List(ctx, dir+"/"+sub)
		if err != nil {
			return nil, err
		}
		for _, n := range list {
			if strings.HasSuffix(n, ".json") {
				names = append(names, sub+"/"+n)
			}
		}
	}
	return Check(names, func(name string) ([]byte, error) {
		return store.ReadAll(ctx, st, dir+"/"+name)
	})
}
