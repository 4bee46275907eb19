package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/testupstream"
)

// mfRun runs modferry with extra environment and returns its stdout,
// stderr and exit code, separately.
func mfRun(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, modferryBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	t.Logf("modferry %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errb.String())
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("modferry %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// sumdbBundle exports the fixture project "app" with checksum proofs
// from a local checksum database and returns the bundle, the public key
// and the database.
// The export runs with --json; its output is returned too.
func sumdbBundle(t *testing.T) (bundle, pub, exportJSON string, db *checksumdbtest.DB) {
	t.Helper()
	up := testupstream.New(t)
	db = checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app)
	bundle = filepath.Join(t.TempDir(), "b.tar.zst")
	out, _, code := mfRun(t, []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="},
		"export", "--sign-key", key, "-o", bundle, "--upstream", up.URL, "--json", app)
	if code != 0 {
		t.Fatalf("export: exit code %d", code)
	}
	return bundle, pub, out, db
}

var camelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// checkJSONContract checks one --json output against the output
// contract: camelCase keys at every depth, no null anywhere (empty lists
// are []), durations as numbers with the unit in the key.
func checkJSONContract(t *testing.T, what, out string) {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: output is not JSON: %v\n%s", what, err, out)
		return
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case nil:
			t.Errorf("%s: %s is null (empty lists must be [], absent values left out)", what, path)
		case map[string]any:
			for k, x := range v {
				if !camelCase.MatchString(k) {
					t.Errorf("%s: key %s.%s is not camelCase", what, path, k)
				}
				if strings.Contains(strings.ToLower(k), "duration") {
					if _, ok := x.(json.Number); !ok || !strings.HasSuffix(k, "Seconds") {
						t.Errorf("%s: %s.%s = %v: want a number of seconds in a key ending in Seconds", what, path, k, x)
					}
				}
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk("$", v)
}

// TestJSONContract runs every command that prints JSON and checks the
// output contract on each: camelCase keys, no nulls, durations in seconds.
func TestJSONContract(t *testing.T) {
	b, pub, exportOut, _ := sumdbBundle(t)
	ctx := t.TempDir()
	store := filepath.Join(ctx, "store")
	// A new store's directory, made by hand (only import, publish and
	// serve create one).
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{"export": exportOut}
	run := func(name string, env []string, args ...string) string {
		t.Helper()
		out, _, code := mfRun(t, env, args...)
		if code != 0 {
			t.Fatalf("%s: exit code %d", name, code)
		}
		outputs[name] = out
		return out
	}

	run("version", nil, "version", "--json")
	run("token list (empty)", nil, "token", "list", "--store", store, "--json")
	run("audit show (empty)", nil, "audit", "show", "--store", store, "--json")
	run("verify", nil, "verify", "--pubkey", pub, "--json", b)
	run("import", nil, "import", "--pubkey", pub, "--store", store, "--json", b)
	run("import again", nil, "import", "--pubkey", pub, "--store", store, "--json", b)
	modcache := filepath.Join(ctx, "modcache")
	run("import --modcache", nil, "import", "--pubkey", pub, "--modcache", modcache, "--json", b)
	run("import --cache-dir", nil, "import", "--store", filepath.Join(ctx, "store2"), "--cache-dir", modcache, "--json")
	src := filepath.Join(ctx, "lib")
	writeFiles(t, src, map[string]string{"go.mod": "module corp.example/lib\n", "lib.go": "package lib\n"})
	run("publish", nil, "publish", "--store", store, "--json", "corp.example/lib@v1.0.0", src)
	run("delete", nil, "delete", "--store", store, "--reason", "test", "--json", "corp.example/lib@v1.0.0")
	run("token add", nil, "token", "add", "--store", store, "--name", "ci", "--scope", "read,write", "--json")
	run("token add (expiring)", nil, "token", "add", "--store", store, "--name", "short", "--expires", "1d", "--json")
	run("token list", nil, "token", "list", "--store", store, "--json")
	run("audit verify", nil, "audit", "verify", "--store", store, "--json")
	run("audit show", nil, "audit", "show", "--store", store, "--json")

	// export --split --json adds the parts to the summary.
	{
		up := testupstream.New(t)
		key, _ := keygen(t)
		app := filepath.Join(ctx, "split-app")
		testupstream.WriteProject(t, "app", app)
		out := run("export --split", exportEnv, "export", "--sign-key", key, "--split", "4K", "--json", "-o", filepath.Join(ctx, "split.tar.zst"), "--upstream", up.URL, app)
		if !strings.Contains(out, `"partsIndex"`) || !strings.Contains(out, `"durationSeconds"`) {
			t.Errorf("export --split --json lacks partsIndex or durationSeconds:\n%s", out)
		}
	}

	// verify --json of a tampered bundle: exit 3, and the same contract.
	tampered := filepath.Join(ctx, "tampered.tar.zst")
	tamperMember(t, b, tampered, ".mod")
	vout, _, vcode := mfRun(t, nil, "verify", "--pubkey", pub, "--json", tampered)
	if vcode != 3 {
		t.Errorf("verify --json of a tampered bundle: exit %d, want 3", vcode)
	}
	outputs["verify (tampered)"] = vout

	// audit verify --json of a tampered log: exit 3, and the same contract.
	logData, err := os.ReadFile(filepath.Join(store, "audit", "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(ctx, "tampered.jsonl")
	os.WriteFile(bad, bytes.Replace(logData, []byte(`"result":"ok"`), []byte(`"result":"no"`), 1), 0o600)
	out, _, code := mfRun(t, nil, "audit", "verify", "--file", bad, "--json")
	if code != 3 || !strings.Contains(out, `"badLine"`) {
		t.Errorf("audit verify --json of a tampered log: exit %d, want 3 and badLine", code)
	}
	outputs["audit verify (tampered)"] = out

	var tok struct{ Secret string }
	if err := json.Unmarshal([]byte(outputs["token add"]), &tok); err != nil || tok.Secret == "" {
		t.Fatalf("token add --json: no secret (%v)", err)
	}
	remote := filepath.Join(ctx, "remote")
	if err := os.MkdirAll(remote, 0o755); err != nil {
		t.Fatal(err)
	}
	out = mf(t, "token", "add", "--store", remote, "--name", "up", "--scope", "read,write", "--json")
	json.Unmarshal([]byte(out), &tok)
	url := serve(t, remote, "--pubkey", pub)
	run("import --server", []string{"MODFERRY_TOKEN=" + tok.Secret}, "import", "--server", url, "--json", b)
	run("env", []string{"MODFERRY_TOKEN=" + tok.Secret, "GOSUMDB=" + "sum.modferry.test"}, "env", "--server", url, "--json")
	run("env --format json", []string{"MODFERRY_TOKEN=" + tok.Secret, "GOSUMDB=" + "sum.modferry.test"}, "env", "--server", url, "--format", "json")

	for name, out := range outputs {
		checkJSONContract(t, name, out)
	}
	// The import results name module versions as {"path", "version"}.
	var res []struct {
		Added []map[string]string `json:"added"`
	}
	if err := json.Unmarshal([]byte(outputs["import"]), &res); err != nil || len(res) != 1 || len(res[0].Added) == 0 || res[0].Added[0]["path"] == "" {
		t.Errorf("import --json: want added module versions with a path (%v)\n%s", err, outputs["import"])
	}
	if !strings.Contains(outputs["import again"], `"added": []`) {
		t.Errorf("import of a bundle held already: want \"added\": []\n%s", outputs["import again"])
	}
	if !strings.Contains(outputs["export"], `"durationSeconds"`) {
		t.Errorf("export --json has no durationSeconds:\n%s", outputs["export"])
	}
	// Where the time went: every phase an export of a project goes through.
	var exp struct {
		Seconds float64            `json:"durationSeconds"`
		Phases  map[string]float64 `json:"phases"`
	}
	if err := json.Unmarshal([]byte(outputs["export"]), &exp); err != nil {
		t.Fatalf("export --json: %v", err)
	}
	total := 0.0
	for _, p := range []string{"resolve", "toolchains", "hash", "sumdb", "sbom", "write"} {
		v, ok := exp.Phases[p]
		if !ok || v < 0 {
			t.Errorf("export --json phases: %q is %v (present %v), want a duration: %v", p, v, ok, exp.Phases)
		}
		total += v
	}
	if total > exp.Seconds {
		t.Errorf("export --json: the phases add up to %.3f s, more than the %.3f s the export took", total, exp.Seconds)
	}
}

// TestExitCodes checks the exit code contract: 2 for usage errors, 3 for
// security failures (bad signature, tampered bundle), 1 for other
// failures (an unreachable server, a missing file).
func TestExitCodes(t *testing.T) {
	b, pub, _, _ := sumdbBundle(t)
	_, otherPub := keygen(t)
	tampered := filepath.Join(t.TempDir(), "tampered.tar.zst")
	tamperMember(t, b, tampered, ".mod")

	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"bundle as it was exported", []string{"verify", "--pubkey", pub, b}, 0},
		{"unknown command", []string{"frobnicate"}, 2},
		{"unknown subcommand", []string{"token", "frobnicate"}, 2},
		{"unknown flag", []string{"verify", "--frobnicate", b}, 2},
		{"missing argument", []string{"verify", "--pubkey", pub}, 2},
		{"missing required flag", []string{"env"}, 2},
		{"bad flag value", []string{"env", "--server", "ftp://x", "--format", "sh"}, 2},
		{"bad format", []string{"env", "--server", "http://127.0.0.1:1", "--format", "xml"}, 2},
		{"verify with another key", []string{"verify", "--pubkey", otherPub, b}, 3},
		{"tampered bundle", []string{"verify", "--pubkey", pub, tampered}, 3},
		{"import of a tampered bundle", []string{"import", "--pubkey", pub, "--store", t.TempDir(), tampered}, 3},
		{"tampered among good", []string{"verify", "--pubkey", pub, b, tampered}, 3},
		{"missing bundle", []string{"verify", "--pubkey", pub, filepath.Join(t.TempDir(), "none.tar.zst")}, 1},
		{"unreachable server", []string{"env", "--server", "http://" + freeAddr(t)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := mfRun(t, nil, tc.args...)
			if code != tc.want {
				t.Errorf("modferry %s: exit code %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.want, stderr)
			}
		})
	}
}

// tamperMember writes to dst the bundle src with one byte changed in the
// content of its first member whose name ends in suffix; the tar layout
// stays canonical, so only the member's hash betrays the change.
func tamperMember(t *testing.T, src, dst, suffix string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	zr.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(raw)
	tr := tar.NewReader(r)
	at := -1
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no member ending in %s: %v", suffix, err)
		}
		if strings.HasSuffix(h.Name, suffix) && h.Size > 0 {
			at = len(raw) - r.Len() // the member's content starts here
			break
		}
	}
	raw[at] ^= 0x01
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
