package export

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
)

// dirCache is a checksumdb.Cache in a directory (the work dir's
// sumdb/<name>, as the go command keeps its own in
// GOMODCACHE/cache/download/sumdb): the lookups' records and the full
// tiles of earlier exports, which never change, so that an export with
// --work-dir fetches only what is new.
//
// Files are written to a temporary name and renamed, without fsync, and
// each ends in the SHA-256 of what it holds. A crash can leave a file
// empty, cut short or, on a file system that allocates blocks late
// (ext4 without a journal, or in data=writeback mode), of the right
// length but filled with zeros; a bit can also rot on disk. Get refuses
// any file whose trailer does not match, so such a file is fetched again
// instead of being handed on. The capture would catch a bad tile, but
// the go commands of resolution get these files through the recorder
// (resolve.Options.SumDBFiles) and stop on one as on a database that
// lies ("downloaded inconsistent tile"), and the export fails. A file written
// before the trailer existed fails the same check and is fetched again
// once.
type dirCache string

// trailerSize is the length of the SHA-256 that ends every cached file.
const trailerSize = sha256.Size

func (d dirCache) Get(p string) ([]byte, bool) {
	data, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(p)))
	if err != nil || len(data) < trailerSize {
		return nil, false
	}
	body, sum := data[:len(data)-trailerSize], data[len(data)-trailerSize:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, false
	}
	return body, true
}

func (d dirCache) Put(p string, data []byte) {
	name := filepath.Join(string(d), filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return
	}
	sum := sha256.Sum256(data)
	_, err = f.Write(append(data[:len(data):len(data)], sum[:]...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}
