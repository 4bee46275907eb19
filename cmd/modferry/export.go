package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/export"
	"github.com/modferry/modferry/internal/inventory"
	"github.com/modferry/modferry/internal/parts"
	"github.com/modferry/modferry/internal/progress"
	"github.com/modferry/modferry/internal/resolve"
)

type exportOptions struct {
	signKeys    []string
	signCmds    []string
	unsigned    bool
	out         string
	since       string
	upstream    string
	workDir     string
	toolchains  []string
	compression string
	split       string
	json        bool
	vulndb      bool
	vulndbMod   string
	fromStore   string
}

func newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --sign-key KEY -o B.tar.zst [DIR ...] [MODULE@VERSION ...]",
		Short: "Bundle everything projects need into one signed file",
		Long: `Resolve every module file the go command will ask for to download, build,
test, tidy and verify the given projects offline — module zips, go.mod
files of the whole module graph, .info files — and write them into ONE
signed bundle (tar + zstd, with a SHA-256 manifest).

Each DIR is a module root or a go.work root. Each PATH@VERSION (or a query
such as PATH@latest) is what you would type after go install or go get,
resolved on its own: a command (its package path, or a module whose root
is one) as go install PATH@VERSION resolves it, so that it installs
offline; a library module with what a module depending on it needs. Several
projects share one bundle; each module version is stored once. Resolution
runs the real go command in a private GOPATH against --upstream (default:
your go env GOPROXY); your go.mod and go.sum are never modified.

--since INVENTORY (from 'modferry inventory' on the isolated side) leaves
out every module version the other side already has: a delta bundle.

Checksum-database proofs for every module come along (following your
GOSUMDB; modules matching GONOSUMDB/GOPRIVATE are recorded as not covered),
so clients on the other side keep GOSUMDB at its default.

Signatures: --sign-key with a minisign key (modferry keygen) writes
MANIFEST.json.minisig, which 'minisign -Vm' checks; with an armored OpenPGP
secret key, or --sign-cmd with an external signer such as gpg for keys that
never leave a card, MANIFEST.json.asc, which 'gpg --verify' checks. A bundle
may carry both, and several OpenPGP signers, for 'verify
--require-signatures 2' (four eyes). Key passphrases come from the terminal
or $MODFERRY_KEY_PASSPHRASE.

Each project is resolved with the Go toolchain its go.mod or go.work
selects, as the go command does with GOTOOLCHAIN=auto: a project that says
"go 1.27" (go1.27.0) or "toolchain go1.27.3" exports from a go1.26 machine.
That toolchain (the module golang.org/toolchain, fetched through the upstream
and checked against the checksum database) is carried for this machine's
GOOS/GOARCH, so that GOTOOLCHAIN=auto switches offline.
--toolchain go1.27.3/darwin-arm64 carries others; --toolchain none leaves
out the ones projects select.

--from-store STORE bundles what a store holds instead of resolving
projects: the "CI snapshot" of a fill-through proxy ('modferry serve
--upstream'), which kept every module CI fetched through it with the
checksum-database proofs it verified them with. With --since INVENTORY
it leaves out what the other side has. Versions the store holds no proof
for (--private modules) are recorded as not covered.`,
		Example: `  modferry keygen -o ferry.key --no-passphrase
  modferry export --sign-key ferry.key -o deps.tar.zst ./service-a ./service-b golang.org/x/tools@v0.30.0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), cmd.OutOrStdout(), o, args)
		},
	}
	cmd.Flags().StringArrayVar(&o.signKeys, "sign-key", nil, "secret key to sign the bundle with: a minisign key (MANIFEST.json.minisig) or an armored OpenPGP key (MANIFEST.json.asc); repeatable, for several signers")
	cmd.Flags().StringArrayVar(&o.signCmds, "sign-cmd", nil, "external OpenPGP signer that reads the manifest on stdin and writes a detached signature, e.g. 'gpg --detach-sign --armor -u KEYID' (keys on a smartcard or HSM); repeatable")
	cmd.Flags().BoolVar(&o.unsigned, "unsigned", false, "write an unsigned bundle (for experiments; import refuses it without --allow-unsigned)")
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "bundle file to write (required)")
	cmd.Flags().StringVar(&o.since, "since", "", "inventory of the other side: leave out what it has")
	cmd.Flags().StringVar(&o.upstream, "upstream", "", "GOPROXY list to fetch from (default: go env GOPROXY)")
	cmd.Flags().StringVar(&o.workDir, "work-dir", "", "directory caching fetched modules, the build cache and the checksum database's records and full tiles between exports (default: a fresh scratch directory, in memory under /dev/shm when it has 8 GiB free, or $MODFERRY_SCRATCH; the module cache the go command extracts into goes there either way)")
	cmd.Flags().StringArrayVar(&o.toolchains, "toolchain", nil, "also carry a Go toolchain, goX.Y.Z/GOOS-GOARCH (repeatable); 'none' leaves out the toolchains projects select")
	cmd.Flags().StringVar(&o.compression, "compression", "default", "bundle compression: default, best (~1% smaller, ~7x slower) or fast (~2% larger, ~3x faster)")
	cmd.Flags().StringVar(&o.split, "split", "", "cut the bundle into parts of at most this size (e.g. 4G, 700MB) for size-limited media, plus a signed index B.tar.zst.parts; verify and import take the index or any part")
	cmd.Flags().BoolVar(&o.json, "json", false, "print a JSON summary")
	cmd.Flags().BoolVar(&o.vulndb, "vulndb", false, "also carry the Go vulnerability database (from the golang.org/x/vulndb module), for govulncheck offline")
	cmd.Flags().StringVar(&o.vulndbMod, "vulndb-module", "", "module to convert the vulnerability database from, `MODULE[@VERSION]` (default golang.org/x/vulndb at its highest version; implies --vulndb)")
	cmd.Flags().StringVar(&o.fromStore, "from-store", "", "bundle what this store holds (what a 'serve --upstream' proxy fetched) instead of resolving projects")
	return cmd
}

func runExport(ctx context.Context, w io.Writer, o exportOptions, args []string) error {
	if o.out == "" {
		return usagef("give the bundle file with -o B.tar.zst")
	}
	if o.out == "-" {
		// Not standard output: a bundle is written to a temporary file
		// and renamed into place only once whole and signed, so a
		// reader never sees half of one.
		return usagef("-o -: export writes a bundle file, renamed into place once whole and signed; give a file name (then cat it, or 'modferry import' it)")
	}
	if dir := filepath.Dir(o.out); dir != "." {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usagef("-o %s: the directory %s does not exist", o.out, dir)
		}
	}
	limitExportMemory()
	var partSize int64
	if o.split != "" {
		var err error
		if partSize, err = parseSize(o.split); err != nil {
			return fmt.Errorf("--split: %w", err)
		}
		if partSize < 4<<10 {
			return fmt.Errorf("--split %s: parts must be at least 4 KiB (a unit is missing? e.g. 4G)", o.split)
		}
	}
	if signing := len(o.signKeys)+len(o.signCmds) > 0; signing == o.unsigned {
		return usagef("give --sign-key KEY or --sign-cmd CMD (or --unsigned for an experiment)")
	}
	opts := export.Options{Output: o.out, Upstream: o.upstream, WorkDir: o.workDir, ToolVersion: toolVersion()}
	for _, a := range args {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			abs, _ := filepath.Abs(a)
			opts.Projects = append(opts.Projects, abs)
			continue
		}
		if !strings.Contains(a, "@") {
			return usagef("%s: not a directory, and not MODULE@VERSION", a)
		}
		v, err := export.ParseModuleArg(a)
		if err != nil {
			return asUsage(err)
		}
		opts.Modules = append(opts.Modules, v)
	}
	switch o.compression {
	case "default":
		opts.Level = bundle.LevelDefault
	case "best":
		opts.Level = bundle.LevelBest
	case "fast":
		opts.Level = bundle.LevelFast
	default:
		return usagef("--compression %q: want default, best or fast", o.compression)
	}
	for _, tc := range o.toolchains {
		if tc == "none" {
			opts.NoAutoToolchains = true
			continue
		}
		t, err := export.ParseToolchain(tc)
		if err != nil {
			return asUsage(err)
		}
		opts.Toolchains = append(opts.Toolchains, t)
	}
	if o.vulndb || o.vulndbMod != "" {
		opts.VulnDB = true
		path, version, _ := strings.Cut(o.vulndbMod, "@")
		opts.VulnDBModule = module.Version{Path: path, Version: version}
	}
	if o.fromStore != "" {
		if len(opts.Projects)+len(opts.Modules)+len(opts.Toolchains) > 0 || opts.VulnDB || o.upstream != "" {
			return usagef("--from-store bundles what the store holds: give no projects, modules, --toolchain, --vulndb or --upstream with it")
		}
		if fi, err := os.Stat(o.fromStore); !isObjectStore(o.fromStore) && (err != nil || !fi.IsDir()) {
			return fmt.Errorf("--from-store %s: no store there", o.fromStore)
		}
		st, err := openExistingStore(ctx, o.fromStore)
		if err != nil {
			return fmt.Errorf("--from-store: %w", err)
		}
		opts.FromStore = st
	} else if len(opts.Projects)+len(opts.Modules)+len(opts.Toolchains) == 0 && !opts.VulnDB {
		return usagef("nothing to export: give project directories, MODULE@VERSION arguments, --toolchain or --vulndb")
	}
	if !o.unsigned {
		signer, err := bundleSigner(o.signKeys, o.signCmds)
		if err != nil {
			return err
		}
		opts.Sign = signer
	}
	if o.since != "" {
		inv, digest, err := inventory.Load(o.since)
		if err != nil {
			return err
		}
		opts.Since, opts.SinceDigest = inv, digest
	}
	bar := progress.New("resolving", 0)
	opts.Progress = func(e resolve.Event) {
		if bar == nil {
			return
		}
		bar.SetTotal(max(e.Total, e.Files))
		bar.Set(e.Files)
	}
	sum, err := export.Export(ctx, opts)
	bar.Done()
	if err != nil {
		return err
	}
	var split *parts.Index
	var index string
	if partSize > 0 {
		if index, split, err = splitBundle(sum.Output, partSize, opts.Sign); err != nil {
			return fmt.Errorf("splitting %s: %w", sum.Output, err)
		}
	}
	if o.json {
		if split != nil {
			return printJSON(w, struct {
				*export.Summary
				Index string       `json:"partsIndex"`
				Parts []parts.Part `json:"parts"`
			}{sum, index, split.Parts})
		}
		return printJSON(w, sum)
	}
	delta := ""
	if o.since != "" {
		delta = fmt.Sprintf(", %d left out (the other side has them)", sum.LeftOut)
		if sum.Reproven > 0 {
			delta += fmt.Sprintf(", %d carried again for their checksum proofs (the other side has them without)", sum.Reproven)
		}
	}
	signed := "signed"
	if !sum.Signed {
		signed = "UNSIGNED"
	}
	if len(sum.Toolchains) > 0 {
		delta += ", Go toolchains " + strings.Join(sum.Toolchains, " ")
	}
	if sum.VulnDB != nil {
		delta += fmt.Sprintf(", vulnerability database of %d entries from %s", sum.VulnDB.Entries, sum.VulnDB.Source)
	}
	fmt.Fprintf(w, "wrote %s bundle %s: %d module versions (%d zips), %d files, %s%s in %s\n",
		signed, sum.Output, sum.Modules, sum.Zips, sum.Files, progress.Bytes(sum.Bytes), delta, sum.Duration.Round(1e7))
	if split != nil {
		fmt.Fprintf(w, "split into %d parts of at most %s, with the signed index %s:\n", len(split.Parts), progress.Bytes(partSize), index)
		for _, p := range split.Parts {
			fmt.Fprintf(w, "  %s  %s  sha256 %s\n", p.Name, progress.Bytes(p.Size), p.SHA256)
		}
	}
	return nil
}
