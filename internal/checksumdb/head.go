package checksumdb

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Head is a signed tree head of a checksum database.
type Head struct {
	tlog.Tree        // size N and root hash
	Note      []byte // the signed note, as served at "latest"
}

// openHead verifies the signed note msg with v and parses its tree.
// file names msg's origin in errors.
func openHead(msg []byte, v note.Verifier, file string) (*Head, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, &SignatureError{File: file, Err: err}
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return nil, &SignatureError{File: file, Err: err}
	}
	return &Head{Tree: tree, Note: bytes.Clone(msg)}, nil
}

// newVerifier parses a verifier key "name+hash+base64" and checks that it
// names the database name (when name is not empty).
func newVerifier(name, key string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		return nil, fmt.Errorf("checksum database key: %w", err)
	}
	if name != "" && v.Name() != name {
		return nil, fmt.Errorf("checksum database key is for %q, not %q", v.Name(), name)
	}
	return v, nil
}

// A lookup is a parsed lookup response.
type lookup struct {
	mod  module.Version
	id   int64
	text []byte // the record: go.sum lines
	head []byte // the signed note that came with it
}

// parseLookup parses a lookup response for m and checks that its record
// holds m's lines and nothing else.
func parseLookup(file string, m module.Version, data []byte) (*lookup, error) {
	id, text, head, err := tlog.ParseRecord(data)
	if err != nil {
		return nil, &RecordError{File: file, Err: err}
	}
	if _, _, err := recordHashes(m, text); err != nil {
		return nil, &RecordError{File: file, Err: err}
	}
	return &lookup{mod: m, id: id, text: text, head: head}, nil
}

// recordHashes returns the zip and go.mod hashes in m's record text; either
// may be empty (toolchain modules have no go.mod line). Lines for other
// modules, malformed lines and duplicates are errors.
func recordHashes(m module.Version, text []byte) (zip, mod string, err error) {
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != m.Path || !strings.HasPrefix(f[2], "h1:") {
			return "", "", fmt.Errorf("record line %q is not for %s", line, m)
		}
		switch f[1] {
		case m.Version:
			if zip != "" {
				return "", "", fmt.Errorf("record has two zip hashes for %s", m)
			}
			zip = f[2]
		case m.Version + "/go.mod":
			if mod != "" {
				return "", "", fmt.Errorf("record has two go.mod hashes for %s", m)
			}
			mod = f[2]
		default:
			return "", "", fmt.Errorf("record line %q is not for %s", line, m)
		}
	}
	if zip == "" && mod == "" {
		return "", "", fmt.Errorf("record holds no hash for %s", m)
	}
	return zip, mod, nil
}

// checkHashes compares the hashes carried for a module with its record.
func checkHashes(want ModuleHashes, text []byte) error {
	zip, mod, err := recordHashes(want.Version, text)
	if err != nil {
		return err
	}
	if want.ZipHash != "" && want.ZipHash != zip {
		return &MismatchError{Module: want.Version, Want: want.ZipHash, Got: zip}
	}
	if want.ModHash != "" && want.ModHash != mod {
		return &MismatchError{Module: want.Version, GoMod: true, Want: want.ModHash, Got: mod}
	}
	return nil
}
