package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/trust"
)

type verifyOptions struct {
	pubkeys           []string
	requireSignatures int
	allowUnsigned     bool
	json              bool
}

func newVerifyCmd() *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify --pubkey KEY.pub B.tar.zst|B.tar.zst.parts ...",
		Short: "Check a bundle's signature and every hash; change nothing",
		Long: `Check a bundle in one streaming pass: the manifest signature, every member's
size and SHA-256, every module zip against the module zip rules and its h1:
hash, every go.mod's h1: hash, and that nothing is missing, extra, unsafe
(absolute paths, .., links, devices) or duplicated. Then check the
checksum-database proofs it carries: the signed tree head against the
database's key, every lookup's record against the bundled hashes, and every
record's inclusion in the tree, using only the bundled tiles. A bundle
split with 'export --split' is named by its index (B.tar.zst.parts) or any
of its parts: the index's signature is checked first, then the parts are
read as one stream, and a missing or altered part is named. Prints one verdict line
per bundle; exits 0 only if every bundle holds.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), cmd.OutOrStdout(), o, args)
		},
	}
	cmd.Flags().StringArrayVar(&o.pubkeys, "pubkey", nil, "trusted public key: a minisign .pub file, an OpenPGP public key or key ring (armored or binary), or a directory of them (repeatable)")
	cmd.Flags().IntVar(&o.requireSignatures, "require-signatures", 1, "distinct trusted signers a bundle needs (2 for a four-eyes release)")
	cmd.Flags().BoolVar(&o.allowUnsigned, "allow-unsigned", false, "accept bundles without a signature")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

type verifyResult struct {
	Bundle   string         `json:"bundle"`
	OK       bool           `json:"ok"`
	Error    string         `json:"error,omitempty"`
	Signers  []trust.Signer `json:"signers"` // [] when unsigned or failed
	Modules  int            `json:"modules,omitempty"`
	Files    int            `json:"files,omitempty"`
	Created  string         `json:"created,omitempty"`
	Base     string         `json:"baseInventory,omitempty"`
	Unsigned bool           `json:"unsigned,omitempty"`
}

func runVerify(ctx context.Context, w io.Writer, o verifyOptions, args []string) error {
	keys, err := loadTrustedKeys(o.pubkeys)
	if err != nil && !(o.allowUnsigned && len(o.pubkeys) == 0) {
		return err
	}
	policy := trust.Policy{Keys: keys, Require: o.requireSignatures}
	var results []verifyResult
	var failures []error
	for _, b := range args {
		r := verifyResult{Bundle: b, Signers: []trust.Signer{}}
		m, err := verifyBundle(ctx, b, policy, o.allowUnsigned, &r.Signers)
		if r.Signers == nil {
			r.Signers = []trust.Signer{}
		}
		if err != nil {
			r.Error = err.Error()
			failures = append(failures, err)
		} else {
			r.OK = true
			r.Modules, r.Files, r.Created, r.Base = len(m.Modules), len(m.Files), m.Created.Format("2006-01-02T15:04:05Z"), m.BaseInventory
			r.Unsigned = len(r.Signers) == 0
		}
		results = append(results, r)
	}
	if o.json {
		if err := printJSON(w, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.OK {
				by := "signed by " + trust.SignerIDs(r.Signers)
				if r.Unsigned {
					by = "UNSIGNED"
				}
				fmt.Fprintf(w, "OK %s: %d module versions, %d files, %s\n", r.Bundle, r.Modules, r.Files, by)
			} else {
				fmt.Fprintf(w, "FAILED %s: %s\n", r.Bundle, r.Error)
			}
		}
	}
	if len(failures) > 0 {
		return &verifyError{failures: failures, total: len(args)}
	}
	return nil
}

// verifyError reports the bundles that failed; it wraps each failure so
// that the exit code reflects them.
type verifyError struct {
	failures []error
	total    int
}

func (e *verifyError) Error() string {
	return fmt.Sprintf("%d of %d bundles failed verification", len(e.failures), e.total)
}

func (e *verifyError) Unwrap() []error { return e.failures }

// verifyBundle reads and checks one bundle, a file or a split bundle's
// parts (named by their index or any part).
func verifyBundle(ctx context.Context, file string, policy trust.Policy, allowUnsigned bool, signers *[]trust.Signer) (m *bundle.Manifest, err error) {
	if index, ok := splitIndex(file); ok {
		r, err := openParts(index, policy, allowUnsigned)
		if err != nil {
			return nil, err
		}
		err = readParts(r, func(in io.Reader) error {
			m, err = verifyStream(ctx, in, policy, allowUnsigned, signers)
			return err
		})
		return m, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return verifyStream(ctx, f, policy, allowUnsigned, signers)
}

// verifyStream reads and checks one bundle, staging its members in a
// temporary directory that is removed afterwards.
func verifyStream(ctx context.Context, f io.Reader, policy trust.Policy, allowUnsigned bool, signers *[]trust.Signer) (*bundle.Manifest, error) {
	dir, err := os.MkdirTemp("", "modferry-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	stage, err := bundle.NewDirStage(dir)
	if err != nil {
		return nil, err
	}
	defer stage.Close()
	m, err := bundle.Read(ctx, f, bundle.ReadOptions{Verify: verifier(policy, signers), AllowUnsigned: allowUnsigned, Stage: stage})
	if errors.Is(err, bundle.ErrUnsigned) {
		return nil, fmt.Errorf("%w (give --allow-unsigned to accept it anyway)", err)
	}
	if err != nil {
		return nil, err
	}
	_, err = importer.VerifySumDB(m, func(member string) ([]byte, error) {
		p, err := stage.LocalPath(member)
		if err != nil {
			return nil, err
		}
		return os.ReadFile(p)
	})
	return m, err
}
