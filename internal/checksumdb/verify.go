package checksumdb

// Verify checks a proof offline: files are the proof's files by path
// relative to the database root (as in [Proof.Files]). It checks the
// signature of the head at "latest" with verifierKey (which must be for
// the database name), that every module has a lookup carrying that head
// whose record matches the hashes given, and that a go client holding
// nothing but these files accepts every lookup: each record is proven to
// be in the head's tree using only the tiles given.
//
// heads are signed heads a client may already hold (from an inventory):
// each must be re-checkable and consistent with the proof's head using the
// given tiles. It may be nil.
func Verify(files map[string][]byte, name, verifierKey string, modules []ModuleHashes, heads ...[]byte) (*Head, error) {
	v, err := newVerifier(name, verifierKey)
	if err != nil {
		return nil, err
	}
	src, err := mapSource(files, true)
	if err != nil {
		return nil, err
	}
	var starts []*Head
	for _, msg := range heads {
		h, err := openHead(msg, v, "held head")
		if err != nil {
			return nil, err
		}
		starts = append(starts, h)
	}
	head, _, err := checkProof(src, checkOptions{
		verifierKey: verifierKey,
		verifier:    v,
		wants:       dedupe(modules),
		startHeads:  starts,
	})
	return head, err
}

// dedupe merges entries for the same module version, keeping the
// non-empty hashes.
func dedupe(ms []ModuleHashes) []ModuleHashes {
	idx := make(map[string]int)
	var out []ModuleHashes
	for _, m := range ms {
		k := m.Version.String()
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, m)
			continue
		}
		if out[i].ZipHash == "" {
			out[i].ZipHash = m.ZipHash
		}
		if out[i].ModHash == "" {
			out[i].ModHash = m.ModHash
		}
	}
	return out
}
