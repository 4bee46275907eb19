package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/inspect"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/progress"
	"github.com/modferry/modferry/internal/trust"
)

type inspectOptions struct {
	pubkeys           []string
	requireSignatures int
	against           string
	json              bool
}

func newInspectCmd() *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect B.tar.zst|B.tar.zst.parts [--pubkey K] [--against INVENTORY] [--json]",
		Short: "Show what a bundle holds, from its manifest, before importing it",
		Long: `Show what a bundle holds, reading only its manifest and signatures (the first
members), so it answers at once even for a bundle of gigabytes: the projects
it was exported for, module counts and sizes, the largest modules, Go
toolchains, the signer's key ID, the base inventory of a delta bundle and the
checksum-database tree head. With --pubkey the manifest's signatures are
checked as verify checks them; without it the key ID is only read from the
signature. With --against INVENTORY (from 'modferry inventory') it shows
which module versions the store would gain. The sizes are what the manifest
claims: only verify and import check every member. A split bundle is named
by its index or any part.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := runInspect(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			// encoding/json escapes the characters special in HTML
			// (\u003c): names from an untrusted bundle stay inert.
			if o.json {
				err = printJSON(cmd.OutOrStdout(), r)
			} else {
				printInspect(cmd.OutOrStdout(), r)
			}
			if err == nil && r.Signatures.Checked && !r.Signatures.Verified {
				err = fmt.Errorf("%w: %s", bundle.ErrBadSignature, r.Signatures.Error)
			}
			return err
		},
	}
	cmd.Flags().StringArrayVar(&o.pubkeys, "pubkey", nil, "trusted public key (as for verify): check the manifest's signatures (repeatable)")
	cmd.Flags().IntVar(&o.requireSignatures, "require-signatures", 1, "distinct trusted signers the signatures need, with --pubkey")
	cmd.Flags().StringVar(&o.against, "against", "", "inventory of the receiving store: show what would be new")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

func runInspect(ctx context.Context, file string, o inspectOptions) (*inspect.Report, error) {
	var policy trust.Policy
	if len(o.pubkeys) > 0 {
		keys, err := loadTrustedKeys(o.pubkeys)
		if err != nil {
			return nil, err
		}
		policy = trust.Policy{Keys: keys, Require: o.requireSignatures}
	}
	var inv *inventory.Inventory
	var invDigest string
	if o.against != "" {
		data, err := os.ReadFile(o.against)
		if err != nil {
			return nil, err
		}
		if inv, err = inventory.Parse(data); err != nil {
			return nil, fmt.Errorf("%s: %w", o.against, err)
		}
		invDigest = inventory.Digest(data)
	}
	h, size, err := readHead(file, policy)
	if err != nil {
		return nil, err
	}
	r := inspect.New(file, size, h)
	if policy.Keys != nil {
		r.Signatures.Checked = true
		if h.Signatures.Empty() {
			r.Signatures.Error = bundle.ErrUnsigned.Error()
		} else if signers, err := policy.Verify(h.Raw, h.Signatures); err != nil {
			r.Signatures.Error = err.Error()
		} else {
			r.Signatures.Verified = true
			for _, s := range signers {
				r.Signatures.Signers = append(r.Signatures.Signers, s.String())
			}
		}
	}
	if inv != nil {
		r.Compare(h, inv, invDigest)
	}
	return r, nil
}

// readHead reads the manifest and signatures of a bundle file or of a
// split bundle's first part (its index's signature checked against policy
// when there are keys), and returns the bundle's size.
func readHead(file string, policy trust.Policy) (*bundle.Head, int64, error) {
	if index, ok := splitIndex(file); ok {
		pr, err := openParts(index, policy, policy.Keys == nil)
		if err != nil {
			return nil, 0, err
		}
		var h *bundle.Head
		err = readParts(pr, func(in io.Reader) error {
			var err error
			h, err = bundle.ReadHead(in)
			return err
		})
		return h, pr.Index.Size, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	h, err := bundle.ReadHead(f)
	return h, fi.Size(), err
}

func printInspect(w io.Writer, r *inspect.Report) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("Bundle", "%s (%s)", r.Bundle, progress.Bytes(r.Bytes))
	row("Created", "%s by modferry %s (format %d)", r.Created.Format("2006-01-02 15:04:05Z"), r.ToolVersion, r.FormatVersion)
	row("Signature", "%s", signatureLine(r.Signatures))
	if r.Base != "" {
		row("Base", "delta bundle against inventory %s", r.Base)
	} else {
		row("Base", "full bundle (no base inventory)")
	}
	if s := r.SumDB; s != nil {
		row("Checksum DB", "%s, tree head %s (%d versions not covered)", s.Name, cmp.Or(s.TreeHead, "none"), s.NotCovered)
	} else {
		row("Checksum DB", "none")
	}
	row("Modules", "%d versions: %d with zips, %d go.mod only; %s of module files, %s in all",
		r.Modules, r.Zips, r.GoModOnly, progress.Bytes(r.ModuleBytes), progress.Bytes(r.ContentBytes))
	row("Toolchains", "%s", cmp.Or(strings.Join(r.Toolchains, ", "), "none"))
	if r.VulnDB != nil {
		row("Vuln DB", "%d entries, modified %s", r.VulnDB.Entries, r.VulnDB.Modified.Format("2006-01-02"))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nProjects (%d)\n", len(r.Projects))
	for _, p := range r.Projects {
		extra := ""
		if p.VCSRevision != "" {
			extra = "  revision " + p.VCSRevision
		}
		fmt.Fprintf(w, "  %s%s\n", p.Path, extra)
	}
	if len(r.Largest) > 0 {
		fmt.Fprintf(w, "\nLargest modules\n")
		for _, m := range r.Largest {
			fmt.Fprintf(w, "  %10s  %s@%s\n", progress.Bytes(m.Bytes), m.Path, m.Version)
		}
	}
	if a := r.Against; a != nil {
		base := "the bundle was made against another inventory"
		if a.BaseMatches {
			base = "the bundle was made against this inventory"
		}
		fmt.Fprintf(w, "\nAgainst inventory %.16s: %d new module versions (%s), %d held; %s\n", a.Inventory, len(a.New), progress.Bytes(a.NewBytes), a.Held, base)
		for _, c := range a.Conflicts {
			fmt.Fprintf(w, "  CONFLICT %s: the store holds other content; import would refuse the bundle\n", c)
		}
		const show = 20
		for i, m := range a.New {
			if i == show {
				fmt.Fprintf(w, "  ... and %d more (--json lists all)\n", len(a.New)-show)
				break
			}
			fmt.Fprintf(w, "  + %s@%s (%s)\n", m.Path, m.Version, progress.Bytes(m.Bytes))
		}
	}
}

func signatureLine(s inspect.SignatureInfo) string {
	var kinds []string
	if s.Minisign {
		k := "minisign"
		if s.KeyID != "" {
			k += " key " + s.KeyID
		}
		kinds = append(kinds, k)
	}
	if s.OpenPGP {
		kinds = append(kinds, "OpenPGP")
	}
	if len(kinds) == 0 {
		return "UNSIGNED"
	}
	line := strings.Join(kinds, " + ")
	switch {
	case !s.Checked:
		return line + ": not checked (give --pubkey)"
	case s.Verified:
		return line + ": verified, signed by " + strings.Join(s.Signers, ", ")
	default:
		return line + ": DOES NOT VERIFY: " + s.Error
	}
}
