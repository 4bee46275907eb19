package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/cacheimport"
	"github.com/modferry/modferry/internal/importer"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/progress"
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
		Use:   "import --pubkey KEY.pub --store DIR B.tar.zst ...",
		Short: "Verify bundles and add them to the store, all or nothing",
		Long: `Verify each bundle (signature, every SHA-256, every module's zip rules and
h1: hashes — see 'modferry verify') while streaming it into a staging area
beside the store, then commit it. A bundle is imported entirely or not at
all; importing it again is a no-op; a module version the store holds with a
different hash stops the import, naming the module. A server running on the
store sees the new modules at once.

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
  modferry import --pubkey ferry.key.pub --modcache "$(go env GOMODCACHE)" deps.tar.zst
  modferry import --store ./modferry-data --cache-dir "$(go env GOMODCACHE)"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.storeSet = cmd.Flags().Changed("store")
			ctx, w := cmd.Context(), cmd.OutOrStdout()
			switch {
			case o.cacheDir != "":
				if len(args) > 0 || o.modcache != "" {
					return errors.New("--cache-dir takes no bundle arguments and no --modcache")
				}
				return runImportCache(ctx, w, o)
			case len(args) == 0:
				return errors.New("nothing to import: give bundle files, or --cache-dir DIR")
			case o.remote.server != "":
				return runImportRemote(ctx, w, o, args)
			}
			return runImportBundles(ctx, w, o, args)
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
	r := o.remote.remote()
	var results []*importer.Result
	for _, b := range bundles {
		var res importer.Result
		if err := r.PostBundle(ctx, b, &res); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		results = append(results, &res)
		if !o.json {
			if res.AlreadyImported {
				fmt.Fprintf(w, "%s: already imported on %s (bundle %.16s); nothing to do\n", b, o.remote.server, res.Digest)
			} else {
				fmt.Fprintf(w, "imported %s on %s: %d module versions added (%d files, %s), %d already present\n",
					b, o.remote.server, len(res.Added), res.Files, progress.Bytes(res.Bytes), len(res.Present))
			}
		}
	}
	if o.json {
		return printJSON(w, results)
	}
	return nil
}

func localActor() string {
	if u, err := user.Current(); err == nil {
		return "local:" + u.Username
	}
	return "local"
}

func runImportBundles(ctx context.Context, w io.Writer, o importOptions, bundles []string) error {
	keys, err := loadTrustedKeys(o.pubkeys)
	if err != nil && !(o.allowUnsigned && len(o.pubkeys) == 0) {
		return err
	}
	root := o.store
	if o.modcache != "" {
		if o.storeSet {
			return errors.New("give --store or --modcache, not both")
		}
		// A GOMODCACHE's cache/download is a store's download/ tree.
		root = filepath.Join(o.modcache, "cache")
	}
	st, err := store.NewDisk(root)
	if err != nil {
		return err
	}
	var results []*importer.Result
	for _, b := range bundles {
		var signers []trust.Signer
		res, err := importer.Import(ctx, st, b, importer.Options{
			Verify:        verifier(trust.Policy{Keys: keys, Require: o.requireSignatures}, &signers),
			AllowUnsigned: o.allowUnsigned,
			Actor:         localActor(),
			ModCache:      o.modcache != "",
		})
		if o.modcache == "" {
			// One audit entry per bundle, success or failure, before
			// the result is reported.
			e := audit.Entry{Action: audit.ActionImport, Target: filepath.Base(b), Result: audit.ResultOK, Detail: map[string]string{}}
			if len(signers) > 0 {
				e.Detail["key"] = trust.SignerIDs(signers)
			}
			if err != nil {
				e.Result, e.Detail["error"] = audit.ResultError, err.Error()
			} else {
				e.Detail["digest"] = res.Digest
				e.Detail["added"] = strconv.Itoa(len(res.Added))
				e.Detail["present"] = strconv.Itoa(len(res.Present))
				if res.AlreadyImported {
					e.Detail["already_imported"] = "true"
				}
			}
			if aerr := record(ctx, st.Root(), e); aerr != nil {
				if err != nil {
					return fmt.Errorf("%s: %w (and %v)", b, err, aerr)
				}
				return fmt.Errorf("%s imported, but %w", b, aerr)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		results = append(results, res)
		if !o.json {
			switch {
			case res.AlreadyImported:
				fmt.Fprintf(w, "%s: already imported (bundle %s); nothing to do\n", b, res.Digest[:16])
			default:
				fmt.Fprintf(w, "imported %s into %s: %d module versions added (%d files, %s), %d already present\n",
					b, st.Root(), len(res.Added), res.Files, progress.Bytes(res.Bytes), len(res.Present))
			}
		}
	}
	if o.json {
		return printJSON(w, results)
	}
	return nil
}

func runImportCache(ctx context.Context, w io.Writer, o importOptions) error {
	st, err := openStore(o.store)
	if err != nil {
		return err
	}
	bar := progress.New("checking", 0)
	res, err := cacheimport.Import(ctx, &modules.Repo{Store: st}, o.cacheDir, cacheimport.Options{
		Progress: func(done, total int) { bar.SetTotal(total); bar.Set(done) },
	})
	bar.Done()
	e := audit.Entry{Action: audit.ActionImport, Target: "cache-dir:" + o.cacheDir, Result: audit.ResultOK, Detail: map[string]string{}}
	if err != nil {
		e.Result, e.Detail["error"] = audit.ResultError, err.Error()
	} else {
		e.Detail["added"] = strconv.Itoa(len(res.Added))
		e.Detail["skipped"] = strconv.Itoa(len(res.Skipped))
	}
	if aerr := record(ctx, st.Root(), e); aerr != nil && err == nil {
		return fmt.Errorf("imported, but %w", aerr)
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
		len(res.Added), progress.Bytes(res.Bytes), res.Root, st.Root(), len(res.Present), len(res.Skipped))
	return nil
}
