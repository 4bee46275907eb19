package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/cacheimport"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/progress"
	"github.com/modferry/modferry/internal/scratch"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/trust"
)

type importOptions struct {
	remote            remoteOptions
	store             string
	storeSet          bool
	cacheDir          string
	modcache          string
	pubkeys           []string
	requireSignatures int
	allowUnsigned     bool
	json              bool
}

func newImportCmd() *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import --pubkey KEY.pub --store DIR B.tar.zst ... (- for standard input)",
		Short: "Verify bundles and add them to the store, all or nothing",
		Long: `Verify each bundle (signature, every SHA-256, every module's zip rules and
h1: hashes — see 'modferry verify') while streaming it into a staging area
beside the store, then commit it. A bundle is imported entirely or not at
all; importing it again is a no-op; a module version the store holds with a
different hash stops the import, naming the module. A server running on the
store sees the new modules at once. "-" reads a bundle from standard input.

With --modcache DIR, fill a GOMODCACHE directly instead of a store (with
.ziphash files), so that GOPROXY=off GOFLAGS=-mod=mod builds work with no
server at all.

With --server URL (and --token or $MODFERRY_TOKEN, write scope), upload
the bundles to a running modferry server, which verifies them with the keys
it was started with (serve --pubkey) and imports them the same way.

With --cache-dir GOMODCACHE, add a go command module cache tree — what
people copy between machines today — checking every zip against the module
zip rules and its .ziphash; what fails is skipped and reported.`,
		Example: `  modferry import --pubkey ferry.key.pub --store ./modferry-data deps.tar.zst
  ssh transfer-host cat deps.tar.zst | modferry import --pubkey ferry.key.pub --store ./modferry-data -
  modferry import --pubkey ferry.key.pub --modcache "$(go env GOMODCACHE)" deps.tar.zst
  modferry import --store ./modferry-data --cache-dir "$(go env GOMODCACHE)"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.storeSet = cmd.Flags().Changed("store")
			ctx, w := cmd.Context(), cmd.OutOrStdout()
			switch {
			case o.cacheDir != "":
				if len(args) > 0 || o.modcache != "" {
					return usagef("--cache-dir takes no bundle arguments and no --modcache")
				}
				return runImportCache(ctx, w, o)
			case len(args) == 0:
				return usagef("nothing to import: give bundle files, or --cache-dir DIR")
			case o.remote.server != "":
				return runImportRemote(ctx, w, o, args)
			}
			tuneImportGC()
			return runImportBundles(ctx, w, cmd.InOrStdin(), o, args)
		},
	}
	addStoreFlag(cmd, &o.store)
	cmd.Flags().StringVar(&o.cacheDir, "cache-dir", "", "import a GOMODCACHE (or its cache/download directory)")
	cmd.Flags().StringVar(&o.modcache, "modcache", "", "fill this GOMODCACHE directly instead of a store")
	cmd.Flags().StringArrayVar(&o.pubkeys, "pubkey", nil, "trusted public key: a minisign .pub file, an OpenPGP public key or key ring (armored or binary), or a directory of them (repeatable)")
	cmd.Flags().IntVar(&o.requireSignatures, "require-signatures", 1, "distinct trusted signers a bundle needs (2 for a four-eyes release)")
	cmd.Flags().BoolVar(&o.allowUnsigned, "allow-unsigned", false, "accept bundles without a signature")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	addRemoteFlags(cmd, &o.remote, "write")
	return cmd
}

// runImportRemote uploads bundles to a server, which verifies them with
// the keys it trusts (serve --pubkey) and imports them.
func runImportRemote(ctx context.Context, w io.Writer, o importOptions, bundles []string) error {
	r, err := o.remote.client()
	if err != nil {
		return err
	}
	var results []*importer.Result
	for _, b := range bundles {
		var res importer.Result
		if err := postBundle(ctx, r, b, &res); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		results = append(results, &res)
		if !o.json {
			if res.AlreadyImported {
				fmt.Fprintf(w, "%s: already imported on %s (bundle %.16s); nothing to do\n", b, o.remote.server, res.Digest)
			} else {
				fmt.Fprintf(w, "imported %s on %s: %d module versions added (%d files, %s), %d already present\n",
					b, o.remote.server, len(res.Added), res.Files, progress.Bytes(res.Bytes), len(res.Present))
				printDeletedLeftOut(w, res.Deleted)
				printBaseCheck(w, &res)
			}
		}
	}
	if o.json {
		return printJSON(w, results)
	}
	return nil
}

// postBundle uploads the bundle file to the server c, decoding its answer
// into res.
func postBundle(ctx context.Context, c *api.Client, file string, res *importer.Result) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.PostBundle(ctx, f, res)
}

func localActor() string {
	if u, err := user.Current(); err == nil {
		return "local:" + u.Username
	}
	return "local"
}

func runImportBundles(ctx context.Context, w io.Writer, stdin io.Reader, o importOptions, bundles []string) (err error) {
	var results []*importer.Result
	defer func() {
		// With --json, the bundles imported before one failed are
		// still printed: they are in the store.
		if err != nil && o.json && len(results) > 0 {
			printJSON(w, results)
		}
	}()
	keys, err := loadTrustedKeys(o.pubkeys)
	if err != nil && !(o.allowUnsigned && len(o.pubkeys) == 0) {
		return err
	}
	root := o.store
	if o.modcache != "" {
		if o.storeSet {
			return usagef("give --store or --modcache, not both")
		}
		// A GOMODCACHE's cache/download is a store's download/ tree.
		root = filepath.Join(o.modcache, "cache")
	}
	// Nothing is created before every input is known to be readable.
	in, err := checkInputs(bundles, stdin)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, root)
	if err != nil {
		return err
	}
	for _, b := range bundles {
		name, file := b, b
		if b == "-" {
			name = "standard input"
			var done func()
			if file, done, err = spool(st, in); err != nil {
				return fmt.Errorf("reading the bundle from standard input: %w", err)
			}
			defer done()
		} else if index, ok := splitIndex(b); ok {
			// The parts are joined into the uploads area, each checked
			// against the signed index; then the bundle is imported as
			// any other.
			r, err := openParts(index, trust.Policy{Keys: keys, Require: o.requireSignatures}, o.allowUnsigned)
			if err != nil {
				return fmt.Errorf("%s: %w", b, err)
			}
			name = r.Index.Bundle
			done := func() {}
			err = readParts(r, func(in io.Reader) error {
				f, d, err := spool(st, in)
				if err == nil {
					file, done = f, d
				}
				return err
			})
			defer done()
			if err != nil {
				return fmt.Errorf("%s: joining the parts: %w", b, err)
			}
		}
		res, err := importBundle(ctx, st, file, filepath.Base(name), keys, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res.Bundle = name
		results = append(results, res)
		if !o.json {
			switch {
			case res.AlreadyImported:
				fmt.Fprintf(w, "%s: already imported (bundle %s); nothing to do\n", name, res.Digest[:16])
			default:
				fmt.Fprintf(w, "imported %s into %s: %d module versions added (%d files, %s), %d already present\n",
					name, storeString(st), len(res.Added), res.Files, progress.Bytes(res.Bytes), len(res.Present))
				printDeletedLeftOut(w, res.Deleted)
				printBaseCheck(w, res)
			}
			printVulnDBImport(w, res.VulnDB)
		}
	}
	if o.json {
		return printJSON(w, results)
	}
	return nil
}

// importBundle imports one bundle file; into a store (not a GOMODCACHE),
// as a change recorded in the audit log, before and after, with target.
func importBundle(ctx context.Context, st store.Store, file, target string, keys *trust.Keys, o importOptions) (*importer.Result, error) {
	var signers []trust.Signer
	opts := importer.Options{
		Verify:        verifier(trust.Policy{Keys: keys, Require: o.requireSignatures}, &signers),
		AllowUnsigned: o.allowUnsigned,
		Actor:         localActor(),
		ModCache:      o.modcache != "",
	}
	if o.modcache != "" {
		return importer.Import(ctx, st, file, opts)
	}
	c, err := beginChange(ctx, st, audit.Entry{Action: audit.ActionImport, Target: target})
	if err != nil {
		return nil, err
	}
	res, err := importer.Import(ctx, st, file, opts)
	result, d := audit.ResultOK, map[string]string{}
	if len(signers) > 0 {
		d["key"] = trust.SignerIDs(signers)
	}
	if err != nil {
		result, d["error"] = audit.ResultError, err.Error()
	} else {
		d["digest"] = res.Digest
		d["added"] = strconv.Itoa(len(res.Added))
		d["present"] = strconv.Itoa(len(res.Present))
		if len(res.Deleted) > 0 {
			d["deleted"] = strconv.Itoa(len(res.Deleted))
		}
		if res.AlreadyImported {
			d["alreadyImported"] = "true"
		}
	}
	if ferr := c.finish(ctx, result, d); ferr != nil {
		if err != nil {
			return nil, fmt.Errorf("%w (and %v)", err, ferr)
		}
		return nil, ferr
	}
	return res, err
}

// checkInputs checks that every bundle argument can be read: a file that
// opens, or "-" (at most once) for standard input, which must not be a
// terminal and must hold at least one byte. It returns standard input,
// buffered, for spool.
func checkInputs(bundles []string, stdin io.Reader) (*bufio.Reader, error) {
	var in *bufio.Reader
	for _, b := range bundles {
		if b == "-" {
			if in != nil {
				return nil, usagef("standard input (-) can be given only once")
			}
			if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return nil, usagef("standard input is a terminal: pipe a bundle into 'import -', or give a file")
			}
			in = bufio.NewReaderSize(stdin, 64<<10)
			if _, err := in.Peek(1); err != nil {
				if err == io.EOF {
					return nil, errors.New("standard input is empty: no bundle to import")
				}
				return nil, fmt.Errorf("reading standard input: %w", err)
			}
			continue
		}
		if index, ok := splitIndex(b); ok {
			b = index
		}
		f, err := os.Open(b)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory, not a bundle file", b)
		}
	}
	return in, nil
}

// spool copies a bundle from r into the store's uploads directory (the
// importer reads a bundle twice: once for its digest, once to check and
// stage it), or the system's temporary directory for a store that is not
// on the local filesystem, and returns the file's path and done, which
// removes it. The file stays locked until done (package scratch), so that
// the server's housekeeping never takes it for a crash leftover.
func spool(st store.Store, r io.Reader) (path string, done func(), err error) {
	dir := os.TempDir()
	if l, ok := st.(store.Local); ok {
		dir = filepath.Join(l.Root(), "uploads")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	// Copies an import that was killed left (a bundle can be gigabytes);
	// the one of an import still running is locked, and stays.
	scratch.Clean(dir, spoolPattern, time.Now().Add(-time.Minute))
	f, err := scratch.CreateTemp(dir, spoolPattern)
	if err != nil {
		return "", nil, err
	}
	done = func() {
		f.Close()
		os.Remove(f.Name())
	}
	if _, err := io.Copy(f, r); err != nil {
		done()
		return "", nil, err
	}
	return f.Name(), done, nil
}

// spoolPattern names the copies spool makes.
const spoolPattern = "modferry-stdin-*.tar.zst"

func runImportCache(ctx context.Context, w io.Writer, o importOptions) error {
	st, err := openStore(ctx, o.store)
	if err != nil {
		return err
	}
	c, err := beginChange(ctx, st, audit.Entry{Action: audit.ActionImport, Target: "cache-dir:" + o.cacheDir})
	if err != nil {
		return err
	}
	bar := progress.New("checking", 0)
	res, err := cacheimport.Import(ctx, &modules.Repo{Store: st}, o.cacheDir, cacheimport.Options{
		Progress: func(done, total int) { bar.SetTotal(total); bar.Set(done) },
	})
	bar.Done()
	result, d := audit.ResultOK, map[string]string{}
	if err != nil {
		result, d["error"] = audit.ResultError, err.Error()
	} else {
		d["added"] = strconv.Itoa(len(res.Added))
		d["skipped"] = strconv.Itoa(len(res.Skipped))
	}
	if ferr := c.finish(ctx, result, d); ferr != nil {
		if err != nil {
			return fmt.Errorf("%w (and %v)", err, ferr)
		}
		return ferr
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, res)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Version, s.Reason)
	}
	fmt.Fprintf(w, "imported %d module versions (%s) from %s into %s; %d already present, %d skipped\n",
		len(res.Added), progress.Bytes(res.Bytes), res.Root, storeString(st), len(res.Present), len(res.Skipped))
	return nil
}

// printBaseCheck says what a delta bundle left out that the store lacks.
func printBaseCheck(w io.Writer, res *importer.Result) {
	if res.BaseCheckError != "" {
		fmt.Fprintf(w, "warning: the bundle was imported, but what the delta left out could not be checked: %s\n", res.BaseCheckError)
	}
	if res.BaseUnknown {
		fmt.Fprintf(w, "note: this delta bundle was made against an inventory this store did not write ('modferry inventory' on another store, or long ago): it leaves out what that inventory listed, which this store may lack\n")
	}
	if n := len(res.BaseMissing); n > 0 {
		fmt.Fprintf(w, "warning: this delta bundle was made against an inventory of this store that listed %d module versions the store no longer holds (deleted or pruned since), so the bundle left them out; builds that need them will fail: take a new inventory ('modferry inventory') and export again. They are:\n", n)
		for i, v := range res.BaseMissing {
			if i == 20 {
				fmt.Fprintf(w, "  ... and %d more\n", n-20)
				break
			}
			fmt.Fprintf(w, "  %s\n", v)
		}
	}
}

// printDeletedLeftOut names the bundle's versions an import left out
// because they were deleted from the store on purpose.
func printDeletedLeftOut(w io.Writer, deleted modules.VersionList) {
	if len(deleted) == 0 {
		return
	}
	fmt.Fprintf(w, "left out %d module versions deleted from this store ('modferry delete'; they stay gone):\n", len(deleted))
	for _, v := range deleted {
		fmt.Fprintf(w, "  %s\n", v)
	}
}
