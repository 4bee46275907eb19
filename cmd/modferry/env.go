package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/tlog"
)

// defaultSumDB is the checksum database go clients use by default.
const defaultSumDB = "sum.golang.org"

type envOptions struct {
	remote       remoteOptions
	private      string
	format       string
	json         bool
	allowNoSumDB bool
}

func newEnvCmd() *cobra.Command {
	var o envOptions
	cmd := &cobra.Command{
		Use:   "env --server URL [--format sh|json|github|dotenv|powershell]",
		Short: "Print the environment a go client needs to use a modferry server",
		Long: `Print the environment variables a go client sets to build against a
modferry server. The server is asked first: if it cannot be reached, or
what answers is not a modferry server, env fails and prints nothing.

GOSUMDB stays at its default: the go command checks every module against
the checksum database through the server, offline. A server that holds no
checksum database (a store filled only by 'import --cache-dir' or
'publish') makes env fail, unless --allow-no-sumdb accepts setting
GONOSUMDB='*', which turns checksum-database checks off for every module.
Private modules, which no database covers, go in GONOSUMDB (--private).

GOFLAGS keeps what your go command has (go env GOFLAGS) and gains -mod=mod.

Formats:
  sh          export NAME='value' lines: eval "$(modferry env --server URL)"
  json        {"server", "checksumDatabase", "variables": [{"name", "value", "comment"}], "warnings"}
  github      NAME=value lines to append to $GITHUB_ENV
  dotenv      NAME='value' lines for .env files (docker compose, dotenv libraries)
  powershell  $env:NAME = 'value' lines: modferry env ... | Invoke-Expression`,
		Example: `  eval "$(modferry env --server http://modferry.internal:3000)"
  modferry env --server https://modferry.internal --format github >> "$GITHUB_ENV"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.json {
				if cmd.Flags().Changed("format") && o.format != "json" {
					return usagef("--json and --format %s disagree", o.format)
				}
				o.format = "json"
			}
			return runEnv(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	cmd.Flags().StringVar(&o.remote.server, "server", "", "URL of the modferry server (required)")
	cmd.Flags().StringVar(&o.remote.token, "token", "", "token with the read scope, if the server requires one (default: $MODFERRY_TOKEN)")
	cmd.Flags().StringVar(&o.private, "private", "", "comma-separated module path patterns of private modules, for GONOSUMDB")
	cmd.Flags().StringVar(&o.format, "format", "sh", "output format: sh, json, github, dotenv or powershell")
	cmd.Flags().BoolVar(&o.json, "json", false, "same as --format json")
	cmd.Flags().BoolVar(&o.allowNoSumDB, "allow-no-sumdb", false, "if the server holds no checksum database, set GONOSUMDB='*' (turns checksum-database checks off) instead of failing")
	cmd.MarkFlagRequired("server")
	return cmd
}

// envVar is one variable of a client environment, with a comment.
type envVar struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Comment string `json:"comment"`
}

// clientEnv is what env prints.
type clientEnv struct {
	Server           string   `json:"server"`
	ChecksumDatabase bool     `json:"checksumDatabase"` // the server serves the default checksum database
	Variables        []envVar `json:"variables"`
	Warnings         []string `json:"warnings"`
}

func runEnv(ctx context.Context, stdout, stderr io.Writer, o envOptions) error {
	write, ok := envFormats[o.format]
	if !ok {
		return usagef("--format %q: want sh, json, github, dotenv or powershell", o.format)
	}
	env, err := buildClientEnv(ctx, o, userGoEnv(ctx))
	if err != nil {
		return err
	}
	// Everything is known and checked; only now is anything printed.
	out, err := write(env)
	if err != nil {
		return err
	}
	for _, w := range env.Warnings {
		fmt.Fprintln(stderr, "modferry: warning:", w)
	}
	_, err = io.WriteString(stdout, out)
	return err
}

func buildClientEnv(ctx context.Context, o envOptions, user goEnv) (*clientEnv, error) {
	if err := checkServerURL(o.remote.server); err != nil {
		return nil, err
	}
	u, _ := url.Parse(o.remote.server)
	proxy := strings.TrimSuffix(u.String(), "/")
	c := &envProbe{base: proxy, token: o.remote.remote().Token, client: &http.Client{Timeout: 10 * time.Second}}
	if err := c.checkModferry(ctx); err != nil {
		return nil, err
	}
	dbName := sumDBName(user.GOSUMDB)
	hasSumDB, err := c.hasSumDB(ctx, dbName)
	if err != nil {
		return nil, err
	}
	env := &clientEnv{Server: proxy, ChecksumDatabase: hasSumDB, Warnings: []string{}}
	if hasSumDB {
		if w := c.headWarning(ctx, dbName, user); w != "" {
			env.Warnings = append(env.Warnings, w)
		}
	}
	if c.token != "" {
		// The go command reads the token from ~/.netrc (GOAUTH=netrc,
		// its default), and sends credentials only over HTTPS.
		if u.Scheme != "https" {
			env.Warnings = append(env.Warnings, fmt.Sprintf("%s needs a token, but the go command sends credentials only over https: serve with --tls-cert and --tls-key (or behind a TLS proxy) and use an https:// URL, or its requests will get 401", proxy))
		} else {
			env.Warnings = append(env.Warnings, fmt.Sprintf("the go command sends the token from ~/.netrc: add the line 'machine %s login modferry password TOKEN' (GOAUTH=netrc, the default)", u.Hostname()))
		}
	}
	if user.GOSUMDB == "off" {
		env.Warnings = append(env.Warnings, "your go command has GOSUMDB=off: it checks no module against a checksum database; unset it to use the server's")
	}
	flags, dropped := addModMod(user.GOFLAGS)
	if dropped != "" {
		env.Warnings = append(env.Warnings, fmt.Sprintf("GOFLAGS had %s; replaced by -mod=mod, which modferry clients need", dropped))
	}
	env.Variables = []envVar{
		{"GOPROXY", proxy, "modules come only from the modferry server"},
		{"GOFLAGS", flags, "your GOFLAGS plus -mod=mod: go commands may add missing go.sum lines (each checked against the checksum database)"},
	}
	switch {
	case hasSumDB && o.private != "":
		env.Variables = append(env.Variables, envVar{"GONOSUMDB", o.private,
			"private modules: in no checksum database (do not use GOPRIVATE offline: it also bypasses GOPROXY)"})
	case hasSumDB:
		// GOSUMDB stays at its default: the client fetches checksum
		// proofs through the server.
	case !o.allowNoSumDB:
		return nil, fmt.Errorf("%s holds no checksum database (%s): its clients cannot check modules against it; "+
			"import bundles exported with checksum proofs, or give --allow-no-sumdb to set GONOSUMDB='*' and turn those checks off", proxy, dbName)
	default:
		env.Variables = append(env.Variables, envVar{"GONOSUMDB", "*",
			"the server holds no checksum database: modules new to a project are trusted as the server serves them"})
		env.Warnings = append(env.Warnings, fmt.Sprintf("%s holds no checksum database: with GONOSUMDB='*' the go command checks no module against one, "+
			"so a module that is not yet in a project's go.sum is trusted as the server serves it (go.sum lines already written are still checked)", proxy))
	}
	return env, nil
}

// envProbe asks a server what env needs to know.
type envProbe struct {
	base, token string
	client      *http.Client
}

// errNotModferry reports a server that answers, but not as modferry does.
var errNotModferry = errors.New("not a modferry server")

func (p *envProbe) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, err
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the modferry server: %w", err)
	}
	return resp, nil
}

// checkModferry asks /healthz?verbose, which every modferry server answers
// without a token, with {"service": "modferry", ...}.
func (p *envProbe) checkModferry(ctx context.Context) error {
	resp, err := p.get(ctx, "/healthz?verbose")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var h struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Service string `json:"service"`
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		// A modferry server whose store cannot be reached says why.
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h) == nil && h.Service == "modferry" && h.Reason != "" {
			return fmt.Errorf("%s is a modferry server, but it cannot serve now: %s", p.base, h.Reason)
		}
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w (GET /healthz?verbose answered %s)", p.base, errNotModferry, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h); err != nil || h.Service != "modferry" || h.Status != "ok" {
		return fmt.Errorf("%s: %w (GET /healthz?verbose did not answer as modferry does)", p.base, errNotModferry)
	}
	return nil
}

// hasSumDB reports whether the server serves the checksum database name.
func (p *envProbe) hasSumDB(ctx context.Context, name string) (bool, error) {
	resp, err := p.get(ctx, "/sumdb/"+name+"/supported")
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, fmt.Errorf("%s requires a token with the read scope: give --token or set $MODFERRY_TOKEN (%s)", p.base, resp.Status)
	}
	return false, fmt.Errorf("%s: asking for the checksum database: %s", p.base, resp.Status)
}

// goEnv holds the go command settings env builds on.
type goEnv struct {
	GOFLAGS, GOSUMDB, GOPATH, GOMODCACHE string
}

// headWarning warns when this machine's go command remembers a
// checksum-database tree head (it verified modules online, or against
// another server) that the server cannot prove consistent with its own:
// the go command checks that one tree contains the other before it trusts
// either, reading the tiles it needs from its module cache or the server,
// and a store holds only the tiles its bundles carried. Such a client
// fails to verify any module new to it ("tile not in this store").
func (p *envProbe) headWarning(ctx context.Context, db string, user goEnv) string {
	gopaths := filepath.SplitList(user.GOPATH)
	if len(gopaths) == 0 {
		return ""
	}
	file := filepath.Join(gopaths[0], "pkg", "sumdb", db, "latest")
	local, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	mine, err := parseTreeNote(local)
	if err != nil {
		return ""
	}
	resp, err := p.get(ctx, "/sumdb/"+db+"/latest")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	theirs, err := parseTreeNote(body)
	if err != nil || mine == theirs {
		return ""
	}
	older, newer := mine, theirs
	if older.N > newer.N {
		older, newer = newer, older
	}
	tiles := &clientTiles{ctx: ctx, probe: p, db: db}
	if user.GOMODCACHE != "" {
		tiles.cache = filepath.Join(user.GOMODCACHE, "cache", "download", "sumdb", db)
	}
	h, err := tlog.TreeHash(older.N, tlog.TileHashReader(newer, tiles))
	if err == nil && h == older.Hash {
		return ""
	}
	return fmt.Sprintf("this machine's go command remembers %s tree %d (in %s), which the server (tree %d) cannot prove consistent with its own: "+
		"go commands here will fail to verify modules new to them (\"tile not in this store\"); "+
		"on a machine that uses only this server, remove that file (the server's head is signed by the database's key), or give the client its own GOPATH", db, mine.N, file, theirs.N)
}

// parseTreeNote reads the tree from a checksum database's signed tree
// head (the note text before its signatures).
func parseTreeNote(note []byte) (tlog.Tree, error) {
	text, _, _ := bytes.Cut(note, []byte("\n\n"))
	return tlog.ParseTree(append(text, '\n'))
}

// clientTiles reads tiles as the go command does: from its module cache's
// sumdb directory first, then from the server.
type clientTiles struct {
	ctx   context.Context
	probe *envProbe
	db    string
	cache string // "" for none
}

func (c *clientTiles) Height() int { return 8 }

func (c *clientTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		if c.cache != "" {
			if b, err := os.ReadFile(filepath.Join(c.cache, filepath.FromSlash(t.Path()))); err == nil {
				data[i] = b
				continue
			}
		}
		resp, err := c.probe.get(c.ctx, "/sumdb/"+c.db+"/"+t.Path())
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s", t.Path(), resp.Status)
		}
		data[i] = b
	}
	return data, nil
}

func (c *clientTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// userGoEnv returns the settings of the user's go command (from its
// environment and its go env file), or of the environment if there is no
// go command.
func userGoEnv(ctx context.Context) goEnv {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOFLAGS", "GOSUMDB", "GOPATH", "GOMODCACHE").Output()
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if err != nil || len(lines) != 4 {
		return goEnv{GOFLAGS: os.Getenv("GOFLAGS"), GOSUMDB: os.Getenv("GOSUMDB"), GOPATH: os.Getenv("GOPATH"), GOMODCACHE: os.Getenv("GOMODCACHE")}
	}
	return goEnv{GOFLAGS: strings.TrimSpace(lines[0]), GOSUMDB: strings.TrimSpace(lines[1]),
		GOPATH: strings.TrimSpace(lines[2]), GOMODCACHE: strings.TrimSpace(lines[3])}
}

// sumDBName is the name of the checksum database a GOSUMDB setting
// names ("name", "name+key" or "name+key URL"): the one a go client asks
// the server for.
func sumDBName(gosumdb string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(gosumdb), " ")
	name, _, _ = strings.Cut(name, "+")
	if name == "" || name == "off" {
		return defaultSumDB
	}
	return name
}

// addModMod returns flags (space-separated, as GOFLAGS holds them) with
// -mod=mod added, and any other -mod setting it replaced ("" if none).
func addModMod(flags string) (merged, dropped string) {
	var out, gone []string
	for _, f := range strings.Fields(flags) {
		name, val, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if name == "mod" && strings.HasPrefix(f, "-") {
			if val != "mod" {
				gone = append(gone, f)
			}
			continue
		}
		out = append(out, f)
	}
	return strings.Join(append(out, "-mod=mod"), " "), strings.Join(gone, " ")
}
