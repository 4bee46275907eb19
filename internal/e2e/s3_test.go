package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/bundle/bundletest"
	"github.com/modferry/modferry/internal/checksumdb/checksumdbtest"
	"github.com/modferry/modferry/internal/store/s3store/miniotest"
	"github.com/modferry/modferry/internal/testupstream"
)

// startMinIO runs a real MinIO for the test (skipping it without a minio
// binary unless MODFERRY_REQUIRE_MINIO=1) and points the AWS environment
// of the modferry processes the test starts at it.
func startMinIO(t *testing.T) *miniotest.Server {
	t.Helper()
	m := miniotest.Start(t)
	m.SetEnv(t)
	return m
}

// TestS3StoreOpenErrors checks the errors of --store s3://: an endpoint
// that does not answer is named, wrong credentials give one line without
// the secret, and a missing bucket says so and suggests --create-bucket,
// which then creates it.
func TestS3StoreOpenErrors(t *testing.T) {
	startMinIO(t)
	store := "s3://" + miniotest.Bucket + "/errs"

	t.Run("unreachable", func(t *testing.T) {
		down := "http://" + freeAddr(t)
		t.Setenv("AWS_ENDPOINT_URL", down)
		out, err := mfErr(t, "inventory", "--store", store)
		if err == nil || !strings.Contains(out, down) || !strings.Contains(out, "unavailable") {
			t.Errorf("inventory on an endpoint that does not answer: %v, want an error naming %s:\n%s", err, down, out)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		const secret = "not-the-secret-4f2a9c"
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		out, err := mfErr(t, "inventory", "--store", store)
		if err == nil || !strings.Contains(out, "denied") {
			t.Errorf("inventory with a wrong secret key: %v, want access denied:\n%s", err, out)
		}
		if strings.Contains(out, secret) || strings.Contains(out, miniotest.SecretKey) {
			t.Errorf("the error shows a secret key:\n%s", out)
		}
		if n := strings.Count(strings.TrimSpace(out), "\n"); n != 0 {
			t.Errorf("the error has %d lines, want one:\n%s", n+1, out)
		}
	})

	t.Run("malformed URL", func(t *testing.T) {
		out, err := mfErr(t, "inventory", "--store", "s3://bucket:9000/x")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, "want s3://BUCKET[/PREFIX]") {
			t.Errorf("inventory on a malformed s3:// URL: %v, want a usage error (exit 2):\n%s", err, out)
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		nb := "s3://no-such-bucket-modferry"
		out, err := mfErr(t, "inventory", "--store", nb)
		if err == nil || !strings.Contains(out, "does not exist") || !strings.Contains(out, "--create-bucket") {
			t.Errorf("inventory on a missing bucket: %v, want an error suggesting --create-bucket:\n%s", err, out)
		}
		mf(t, "inventory", "--create-bucket", "--store", nb)
		mf(t, "inventory", "--store", nb) // it exists now
	})

}

// TestS3TokensAndAudit: on an s3:// store, token add, list and revoke keep
// the tokens in the bucket, and every change (token add, import, revoke,
// publish, delete) lands in the audit log there, one object per entry, which audit verify,
// show and head read.
func TestS3TokensAndAudit(t *testing.T) {
	startMinIO(t)
	up := testupstream.New(t)
	store := "s3://" + miniotest.Bucket + "/tok"
	addToken(t, store, "ci", "read")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	if out := mf(t, "token", "list", "--store", store, "--json"); !strings.Contains(out, `"name": "ci"`) {
		t.Fatalf("token list does not show ci:\n%s", out)
	}
	mf(t, "token", "revoke", "--store", store, "ci")
	if out := mf(t, "token", "list", "--store", store, "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("token list after the revoke:\n%s", out)
	}
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"go.mod": "module corp.example/lib\n", "lib.go": "package lib\n"})
	mf(t, "publish", "--store", store, "corp.example/lib@v1.0.0", src)
	if out := mf(t, "ls", "--store", store, "--prefix", "corp.example/", "--json"); !strings.Contains(out, `"v1.0.0"`) {
		t.Fatalf("ls after publish: %s", out)
	}
	// The catalog and prune read the publish from the journal: the
	// version came from a publish, and prune keeps it (the store holds
	// its only copy).
	if out := mf(t, "show", "--store", store, "corp.example/lib", "--json"); !strings.Contains(out, `"kind": "publish"`) {
		t.Fatalf("show after publish does not give the publish as the origin:\n%s", out)
	}
	var plan struct {
		Remove []struct{ Path, Version string }
		Kept   map[string]int
	}
	if err := json.Unmarshal([]byte(mf(t, "prune", "--store", store, "--json")), &plan); err != nil {
		t.Fatal(err)
	}
	for _, r := range plan.Remove {
		if r.Path == "corp.example/lib" {
			t.Fatalf("prune would remove the published %s@%s (kept: %v)", r.Path, r.Version, plan.Kept)
		}
	}
	if plan.Kept["published"] != 1 {
		t.Fatalf("prune keeps %v, want one version kept as published", plan.Kept)
	}
	mf(t, "delete", "--store", store, "--reason", "test", "corp.example/lib@v1.0.0")
	out := mf(t, "audit", "verify", "--store", store)
	if !strings.Contains(out, "ok: "+store+"/audit/entries holds 10 entries, chain intact") {
		t.Fatalf("audit verify: %s", out)
	}
	var entries []audit.Entry
	if err := json.Unmarshal([]byte(mf(t, "audit", "show", "--store", store, "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+":"+e.Result)
	}
	want := "[token.add:pending token.add:ok import:pending import:ok token.revoke:pending token.revoke:ok publish:pending publish:ok delete:pending delete:ok]"
	if fmt.Sprint(got) != want {
		t.Fatalf("audit show = %v, want %s", got, want)
	}
	head := strings.TrimSpace(mf(t, "audit", "head", "--store", store))
	if !strings.HasPrefix(head, "10:") {
		t.Fatalf("audit head = %q", head)
	}
	mf(t, "audit", "verify", "--store", store, "--head", head)
}

// getWith makes a GET with a bearer token and returns the status, the
// Retry-After header and the body.
func getWith(t *testing.T, client *http.Client, url, token string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

// TestS3WholePath: the whole path on an s3:// store in a real MinIO. A
// signed bundle with checksum-database proofs is imported; two serve
// replicas share the store; a go client with a token builds through one
// of them with GOSUMDB on (name and key only, so every proof comes
// through modferry from the bucket); audit verify checks the chain in the
// bucket; a token revoked from the command line is refused by the other
// replica within 2 s; with MinIO stopped, module requests get 503 with
// Retry-After, and once it is back they succeed again, without a restart.
func TestS3WholePath(t *testing.T) {
	m := startMinIO(t)
	store := "s3://" + miniotest.Bucket + "/whole"
	up := testupstream.New(t)
	db := checksumdbtest.New(t, "sum.modferry.test", up.Dir, 300)
	key, pub := keygen(t)
	app := filepath.Join(t.TempDir(), "app")
	testupstream.WriteProject(t, "app", app) // no go.sum: every module is checked
	b := filepath.Join(t.TempDir(), "b.tar.zst")
	mfEnv(t, []string{"GOSUMDB=" + db.GOSUMDB(), "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS="}, "export", "--sign-key", key, "-o", b, "--upstream", up.URL, app)
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	ci := addToken(t, store, "ci", "read")
	other := addToken(t, store, "other", "read")

	ca := newTestCA(t)
	client := ca.client()
	a := serveTLS(t, store, ca)
	bURL := serveTLS(t, store, ca)

	// A go client through replica a.
	host := strings.TrimPrefix(a, "https://")
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, fmt.Appendf(nil, "machine %s login x password %s\n", host, ci), 0o600); err != nil {
		t.Fatal(err)
	}
	goEnv := func() []string {
		return append(testupstream.GoEnv(t, a), "GOSUMDB="+db.Key, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=",
			"NETRC="+netrc, "SSL_CERT_FILE="+ca.CAFile, sharedGoCache(t))
	}
	build := func(t *testing.T) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "app")
		copyDir(t, app, dir)
		out, err := testupstream.RunGo(t, dir, goEnv(), "mod", "download", "all")
		if err == nil {
			out, err = testupstream.RunGo(t, dir, goEnv(), "build", "./...")
		}
		if err == nil {
			out, err = testupstream.RunGo(t, dir, goEnv(), "mod", "verify")
		}
		if err != nil || !strings.Contains(out, "all modules verified") {
			t.Fatalf("go client through the S3-backed server: %v\n%s", err, out)
		}
	}
	build(t)

	out := mf(t, "audit", "verify", "--store", store)
	if !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify: %s", out)
	}

	// Revoked on the command line, refused by replica b within 2 s.
	zip := "/modferry.test/dep/@v/v1.1.0.zip"
	if code, _, body := getWith(t, client, bURL+zip, other); code != 200 {
		t.Fatalf("replica b with a valid token: %d %s", code, body)
	}
	mf(t, "token", "revoke", "--store", store, "other")
	revoked := time.Now()
	for {
		code, _, _ := getWith(t, client, bURL+zip, other)
		if code == 401 {
			break
		}
		if time.Since(revoked) > 2*time.Second {
			t.Fatalf("replica b still answers %d to a token revoked %v ago", code, time.Since(revoked))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("replica b refused the revoked token %v after the revoke returned", time.Since(revoked).Round(time.Millisecond))

	// MinIO down: 503 with a reason and Retry-After; back: 200.
	m.Stop()
	code, retry, body := getWith(t, client, a+zip, ci)
	if code != 503 || retry == "" || !strings.Contains(body, "cannot be reached") {
		t.Fatalf("with MinIO stopped: %d Retry-After %q %q, want 503 with Retry-After and a reason", code, retry, body)
	}
	// /healthz says so too (no token; its store check is cached a second).
	health := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, _, body := getWith(t, client, a+"/healthz", "")
			if code == want && (want == 200 || strings.HasPrefix(body, "the store cannot be reached")) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/healthz: %d %q, want %d", code, body, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	health(503)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, body = getWith(t, client, a+zip, ci)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after MinIO came back: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	health(200)
	build(t) // a fresh client builds again, through the same server process
	out = mf(t, "audit", "verify", "--store", store)
	if !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify after the outage: %s", out)
	}
}

// TestS3ConcurrentImports: two import processes at once on one bucket,
// as two machines would run them, with bundles holding other versions of
// the same modules. Both succeed; every module's version list holds both
// versions (the import lock holds across processes, so that neither
// rewrites a list without the other's version); and the audit log, which
// both appended to at once, keeps one intact chain.
func TestS3ConcurrentImports(t *testing.T) {
	m := startMinIO(t)
	const prefix = "race"
	store := "s3://" + miniotest.Bucket + "/" + prefix
	key, pub := bundletest.NewKey(t)
	pubText, _ := pub.MarshalText()
	pubFile := filepath.Join(t.TempDir(), "ferry.pub")
	if err := os.WriteFile(pubFile, pubText, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var files []string
	for _, version := range []string{"v1.0.0", "v1.1.0"} {
		var mods []bundletest.Module
		for i := range n {
			mods = append(mods, bundletest.Module{
				Path:    fmt.Sprintf("modferry.test/race/m%02d", i),
				Version: version,
				Files:   map[string][]byte{"a.go": []byte("package m\n\nconst V = \"" + version + "\"\n")},
			})
		}
		f := filepath.Join(t.TempDir(), version+".tar.zst")
		bundletest.Write(t, f, mods, key)
		files = append(files, f)
	}
	mf(t, "inventory", "--store", store) // the prefix exists before both start

	var wg sync.WaitGroup
	outs := make([]string, len(files))
	errs := make([]error, len(files))
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = mfErr(t, "import", "--pubkey", pubFile, "--store", store, f)
		}()
	}
	wg.Wait()
	for i := range files {
		if errs[i] != nil {
			t.Fatalf("import %s: %v\n%s", files[i], errs[i], outs[i])
		}
	}
	ctx := context.Background()
	c := m.Client()
	for i := range n {
		k := fmt.Sprintf("%s/download/modferry.test/race/m%02d/@v/list", prefix, i)
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(miniotest.Bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if got := strings.Fields(string(b)); len(got) != 2 {
			t.Errorf("%s = %q, want both versions", k, got)
		}
	}
	out := mf(t, "audit", "verify", "--store", store)
	if !strings.Contains(out, "holds 4 entries, chain intact") {
		t.Fatalf("audit verify after two concurrent imports: %s", out)
	}
}

// TestS3LiveDefaultGOSUMDB: a small real project exported from the real
// upstream proxy, imported into an s3:// store on MinIO and served from
// it; a fresh client with GOSUMDB at its default (sum.golang.org) and no
// go.sum builds through modferry, every proof coming from the bucket: the
// client's only way out is a dead HTTP proxy, which requests to loopback
// skip.
func TestS3LiveDefaultGOSUMDB(t *testing.T) {
	live(t)
	startMinIO(t)
	store := "s3://" + miniotest.Bucket + "/live"
	key, pub := keygen(t)
	proj := filepath.Join(t.TempDir(), "live")
	copyDir(t, "testdata/live", proj)
	b := filepath.Join(t.TempDir(), "live.tar.zst")
	mfEnv(t, []string{"GOFLAGS="}, "export", "--sign-key", key, "-o", b, proj)
	mf(t, "import", "--pubkey", pub, "--store", store, b)
	url := serve(t, store)
	dir := filepath.Join(t.TempDir(), "live")
	copyDir(t, proj, dir)
	os.Remove(filepath.Join(dir, "go.sum"))
	dead := "http://" + freeAddr(t)
	env := append(testupstream.GoEnv(t, url), "GOSUMDB=", "GONOSUMDB=", "GOPRIVATE=", "GOFLAGS=-mod=mod",
		"HTTPS_PROXY="+dead, "HTTP_PROXY="+dead, "NO_PROXY=", sharedGoCache(t))
	for _, args := range [][]string{{"mod", "download", "all"}, {"build", "-o", "app", "."}, {"mod", "verify"}} {
		out, err := testupstream.RunGo(t, dir, env, args...)
		if err != nil {
			t.Fatalf("go %s through the S3-backed server with the default GOSUMDB: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if sum, _ := os.ReadFile(filepath.Join(dir, "go.sum")); !strings.Contains(string(sum), "github.com/google/uuid v1.6.0 h1:") {
		t.Errorf("go.sum after the build:\n%s", sum)
	}
}

// TestS3MovedStoreAudit: a store moved from a disk into a bucket brings
// its audit log as a file (audit/log.jsonl, audit/head.json); the
// journal takes over from there. audit verify checks both, so that the
// file (which prune and the catalog still read) cannot be edited without
// verify seeing it, and audit show lists both.
func TestS3MovedStoreAudit(t *testing.T) {
	m := startMinIO(t)
	disk := filepath.Join(t.TempDir(), "disk")
	addToken(t, disk, "ci", "read")
	mf(t, "token", "revoke", "--store", disk, "ci")
	logData, err := os.ReadFile(filepath.Join(disk, "audit", "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	headData, err := os.ReadFile(filepath.Join(disk, "audit", "head.json"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "moved"
	store := "s3://" + miniotest.Bucket + "/" + prefix
	put := func(name string, data []byte) {
		t.Helper()
		_, err := m.Client().PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(miniotest.Bucket), Key: aws.String(prefix + "/" + name), Body: strings.NewReader(string(data))})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("audit/log.jsonl", logData)
	put("audit/head.json", headData)
	addToken(t, store, "ci2", "read") // the journal starts

	out := mf(t, "audit", "verify", "--store", store)
	if !strings.Contains(out, "ok: "+store+"/audit/log.jsonl holds 4 entries, chain intact") ||
		!strings.Contains(out, "ok: "+store+"/audit/entries holds 2 entries") {
		t.Fatalf("audit verify of a moved store:\n%s", out)
	}
	var entries []audit.Entry
	if err := json.Unmarshal([]byte(mf(t, "audit", "show", "--store", store, "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 || entries[0].Target != "ci" || entries[5].Target != "ci2" {
		t.Fatalf("audit show of a moved store: %d entries: %+v", len(entries), entries)
	}

	// Edit the file's first entry: verify names the file as tampered.
	put("audit/log.jsonl", []byte(strings.Replace(string(logData), `"ci"`, `"cj"`, 1)))
	out, err = mfErr(t, "audit", "verify", "--store", store)
	if err == nil || !strings.Contains(out, "audit/log.jsonl: TAMPERED") {
		t.Fatalf("audit verify after the file was edited: %v\n%s", err, out)
	}
}
