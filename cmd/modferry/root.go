package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/auth"
	"github.com/modferry/modferry/internal/buildinfo"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/store/s3store"
)

// globals are the flags every command shares: the root command sets them
// and passes them to the constructors of the verbs that read them.
type globals struct {
	logFormat    string
	logLevel     string
	createBucket bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "modferry",
		Short: "Carry Go modules into isolated networks and serve them there",
		Long: `modferry carries Go module dependencies into networks without internet
access: export everything a set of projects needs into one signed bundle on
the connected side, verify and import it on the isolated side, and serve it
there as a GOPROXY that the plain go command builds against.

Commands that print data take --json: camelCase keys, durations as numbers
with the unit in the key (durationSeconds), [] for empty lists.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       toolVersion(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFlags(cmd, args); err != nil {
				return err
			}
			cmd.SetContext(withStoreOptions(cmd.Context(), storeOptions{createBucket: g.createBucket}))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().BoolVar(&g.createBucket, "create-bucket", false, "create the bucket of an s3:// --store if it does not exist")
	root.AddCommand(newServeCmd(g), newEnvCmd(), newImportCmd(),
		newTokenCmd(), newPublishCmd(), newDeleteCmd(), newPruneCmd(), newAuditCmd())
	root.AddCommand(newKeygenCmd(), newExportCmd(), newVerifyCmd(), newInventoryCmd(), newVersionCmd())
	root.AddCommand(newHealthcheckCmd())
	root.AddCommand(newAlignCmd(), newVulnsCmd())
	root.AddCommand(newSBOMCmd(), newInspectCmd())
	root.AddCommand(newLsCmd(), newSearchCmd(), newShowCmd())
	markUsageErrors(root)
	return root
}

// toolVersion is the module version from the build info.
func toolVersion() string { return buildinfo.Read().Version }

// newLogger returns the logger --log-format and --log-level ask for,
// writing to w.
func (g *globals) newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", g.logFormat)
}

const defaultStore = "./modferry-data"

func addStoreFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "store", defaultStore, "module store: a directory, or s3://BUCKET[/PREFIX] (endpoint and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID... as for the aws command)")
}

// storeOptions are the shared flags that tune openStore; the root command
// puts them in the context of the command it runs.
type storeOptions struct {
	createBucket bool // --create-bucket
}

type storeOptionsKey struct{}

func withStoreOptions(ctx context.Context, o storeOptions) context.Context {
	return context.WithValue(ctx, storeOptionsKey{}, o)
}

// isObjectStore reports whether the --store value name is an object store
// URL rather than a directory.
func isObjectStore(name string) bool {
	return strings.HasPrefix(name, "s3://")
}

// openStore opens the store that --store names: a directory, or an S3
// bucket (s3://BUCKET[/PREFIX]) configured as the AWS SDK configures
// itself (see package s3store). Callers hold it as a store.Store and find
// what more they need by type assertion (see package store), never as a
// particular backend.
func openStore(ctx context.Context, name string) (store.Store, error) {
	if !isObjectStore(name) {
		return store.NewDisk(name)
	}
	if _, _, err := s3store.ParseURL(name); err != nil {
		return nil, asUsage(err)
	}
	o, _ := ctx.Value(storeOptionsKey{}).(storeOptions)
	st, err := s3store.New(ctx, name, s3store.Options{CreateBucket: o.createBucket})
	switch {
	case errors.Is(err, s3store.ErrNoBucket):
		return nil, fmt.Errorf("store %s: %w (or give --create-bucket)", name, err)
	case err != nil:
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	return st, nil
}

// openExistingStore is openStore for the verbs that read or manage a
// store but never make one (all but import, publish and serve): a
// --store that names no directory is an error, where openStore would
// create an empty store there — so that a mistyped path cannot, say,
// take a token that protects nothing.
func openExistingStore(ctx context.Context, name string) (store.Store, error) {
	if !isObjectStore(name) {
		fi, err := os.Stat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("no store at %s: the directory does not exist (check --store; 'modferry import' and 'modferry publish' create a store, or create the directory for a new one)", name)
		case err != nil:
			return nil, fmt.Errorf("store %s: %w", name, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("store %s is not a directory", name)
		}
	}
	return openStore(ctx, name)
}

// storeString names st in messages: its directory if it has one, else
// what its String method says (never its fields, which may hold
// credentials).
func storeString(st store.Store) string {
	if l, ok := st.(store.Local); ok {
		return l.Root()
	}
	if s, ok := st.(fmt.Stringer); ok {
		return s.String()
	}
	return "the store"
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// tokensDir is the directory of the store that holds access tokens.
const tokensDir = "tokens"

// openTokens opens the access tokens of st: in the directory tokens of a
// store on the local filesystem (auth.Open: tokens.json and its lock
// file), else in the object tokens/tokens.json of a store that can
// compare and swap (auth.StoreDoc), which every server sharing the store
// polls.
func openTokens(st store.Store) (*auth.Tokens, error) {
	if l, ok := st.(store.Local); ok {
		return auth.Open(filepath.Join(l.Root(), tokensDir))
	}
	cas, ok := st.(store.CompareAndSwapper)
	if !ok {
		return nil, fmt.Errorf("%s keeps no access tokens: it can neither hold files nor compare and swap", storeString(st))
	}
	name := tokensDir + "/" + auth.TokensFile
	return auth.OpenDoc(auth.StoreDoc{Store: cas, Name: name}, storeString(st)+"/"+name)
}

// openStoreTokens opens the store at dir and its access tokens; the
// caller closes the tokens.
func openStoreTokens(ctx context.Context, name string) (store.Store, *auth.Tokens, error) {
	return openTokensWith(ctx, name, openStore)
}

// openExistingStoreTokens is openStoreTokens on openExistingStore.
func openExistingStoreTokens(ctx context.Context, name string) (store.Store, *auth.Tokens, error) {
	return openTokensWith(ctx, name, openExistingStore)
}

func openTokensWith(ctx context.Context, name string, open func(context.Context, string) (store.Store, error)) (store.Store, *auth.Tokens, error) {
	st, err := open(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	tokens, err := openTokens(st)
	if err != nil {
		return nil, nil, err
	}
	return st, tokens, nil
}

// openAudit opens the audit log of st: the directory audit of a store on
// the local filesystem (audit.Open: log.jsonl, head.json and a lock
// file), else a journal of one object per entry under audit/entries
// (audit.StoreJournal), appended to by conditional creates, which every
// server sharing the store can append to at once.
func openAudit(st store.Store) (*audit.Log, error) {
	if l, ok := st.(store.Local); ok {
		return audit.Open(filepath.Join(l.Root(), audit.StoreDir))
	}
	j := audit.JournalIn(st)
	return audit.OpenJournal(j, storeString(st)+"/"+j.Dir), nil
}

// A change is one state change made from the command line: recorded in
// the store's audit log before it is carried out (beginChange), and its
// outcome after (finish). A change whose intent cannot be recorded is not
// made.
type change struct {
	log *audit.Log
	in  *audit.Intent
}

// beginChange records in the audit log of the store st that the local
// user is about to make the change e describes. If it fails, the caller
// must not make the change; the error says so.
func beginChange(ctx context.Context, st store.Store, e audit.Entry) (*change, error) {
	if e.Actor == "" {
		e.Actor = localActor()
	}
	what := strings.TrimSpace(e.Action + " " + e.Target)
	l, err := openAudit(st)
	if err != nil {
		return nil, fmt.Errorf("%s not done: %w", what, err)
	}
	in, err := l.Begin(ctx, e)
	if err != nil {
		l.Close()
		if errors.Is(err, audit.ErrReadOnly) {
			return nil, fmt.Errorf("%s not done: the store %s is read-only (%w)", what, storeString(st), err)
		}
		return nil, fmt.Errorf("%s not done: the audit log cannot record it: %w", what, err)
	}
	return &change{log: l, in: in}, nil
}

// finish records the outcome of the change. If a change that was made
// (ResultOK) cannot have its outcome recorded, the error says exactly that.
func (c *change) finish(ctx context.Context, result string, detail map[string]string) error {
	defer c.log.Close()
	_, err := c.in.Finish(ctx, result, detail)
	if err == nil {
		return nil
	}
	e := c.in.Entry()
	what := strings.TrimSpace(e.Action + " " + e.Target)
	if result == audit.ResultOK {
		return fmt.Errorf("%s was done, but %w; 'modferry audit verify' lists it as unconfirmed", what, err)
	}
	return fmt.Errorf("recording the outcome of %s: %w", what, err)
}
