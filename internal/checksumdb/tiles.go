package checksumdb

import (
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is the tile height the go command uses.
const tileHeight = 8

// tileKey names a tile position regardless of its width.
type tileKey struct {
	H, L int
	N    int64
}

func keyOf(t tlog.Tile) tileKey { return tileKey{t.H, t.L, t.N} }

// fullTile returns t at its full width.
func fullTile(t tlog.Tile) tlog.Tile {
	t.W = 1 << uint(t.H)
	return t
}

// tileSize is the byte length of a hash tile of t's width.
func tileSize(t tlog.Tile) int { return t.W * tlog.HashSize }

// checkTileData checks that data is a whole hash tile of t's width.
func checkTileData(t tlog.Tile, data []byte) error {
	if t.L >= 0 && len(data) != tileSize(t) {
		return fmt.Errorf("tile %s: %d bytes, want %d", t.Path(), len(data), tileSize(t))
	}
	return nil
}

// A tilePool holds hash tiles at every width seen, checking that tiles at
// one position agree: the shorter is a prefix of the longer. It serves a
// tile exactly or, when allowed, cut from a wider one.
type tilePool struct {
	mu    sync.Mutex
	tiles map[tileKey]map[int][]byte // position -> width -> data
}

func newTilePool() *tilePool {
	return &tilePool{tiles: make(map[tileKey]map[int][]byte)}
}

// add adds tile t, whose data must have t's width.
func (p *tilePool) add(t tlog.Tile, data []byte) error {
	if err := checkTileData(t, data); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := p.tiles[keyOf(t)]
	if ws == nil {
		ws = make(map[int][]byte)
		p.tiles[keyOf(t)] = ws
	}
	for w, d := range ws {
		short, long := d, data
		if len(short) > len(long) {
			short, long = long, short
		}
		if !bytes.HasPrefix(long, short) {
			other := t
			other.W = w
			return &TileConflictError{Path: t.Path(), Other: other.Path()}
		}
	}
	ws[t.W] = bytes.Clone(data)
	return nil
}

// get returns tile t: the tile held at exactly t's width or, if cut is
// set, the first t.W hashes of the widest tile held at t's position.
func (p *tilePool) get(t tlog.Tile, cut bool) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := p.tiles[keyOf(t)]
	if d, ok := ws[t.W]; ok {
		return d, true
	}
	if !cut || t.L < 0 {
		return nil, false
	}
	var widest []byte
	for w, d := range ws {
		if w >= t.W && len(d) > len(widest) {
			widest = d
		}
	}
	if widest == nil {
		return nil, false
	}
	return widest[:tileSize(t)], true
}

// A recordingReader is a tlog.TileReader over a function, recording the
// paths of the tiles read. The go client reads tiles of height 8.
type recordingReader struct {
	read func(tlog.Tile) ([]byte, error)

	mu   sync.Mutex
	used map[string]bool
}

func newRecordingReader(read func(tlog.Tile) ([]byte, error)) *recordingReader {
	return &recordingReader{read: read, used: make(map[string]bool)}
}

func (r *recordingReader) Height() int { return tileHeight }

func (r *recordingReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	errs := make([]error, len(tiles))
	var wg sync.WaitGroup
	for i, t := range tiles {
		wg.Go(func() {
			data, err := r.read(t)
			if err == nil {
				err = checkTileData(t, data)
			}
			out[i], errs[i] = data, err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	for _, t := range tiles {
		r.used[t.Path()] = true
	}
	r.mu.Unlock()
	return out, nil
}

func (r *recordingReader) SaveTiles([]tlog.Tile, [][]byte) {}

// paths returns the recorded paths, sorted.
func (r *recordingReader) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ps []string
	for p := range r.used {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// errTileMissing is the error for a tile that is not held.
func errTileMissing(t tlog.Tile) error {
	return &fs.PathError{Op: "read", Path: t.Path(), Err: fs.ErrNotExist}
}
