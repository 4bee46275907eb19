package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/testupstream"
)

// testCA is a certificate authority made for one test, and a server
// certificate it signed for 127.0.0.1 and localhost.
type testCA struct {
	CAFile, CertFile, KeyFile string
	Pool                      *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "modferry test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "modferry test server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "server.pem"),
		KeyFile:  filepath.Join(dir, "server.key"),
		Pool:     x509.NewCertPool(),
	}
	ca.Pool.AddCert(caCert)
	writePEM(t, ca.CAFile, "CERTIFICATE", caDER)
	writePEM(t, ca.CertFile, "CERTIFICATE", der)
	writePEM(t, ca.KeyFile, "EC PRIVATE KEY", keyDER)
	return ca
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// client returns an HTTP client that trusts only the test CA.
func (ca *testCA) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
	}}
}

// serveTLS starts `modferry serve` with the test CA's certificate and
// returns its https URL once /healthz answers; it stops with the test.
func serveTLS(t *testing.T, store string, ca *testCA, extra ...string) string {
	t.Helper()
	args := append([]string{"--store", store, "--tls-cert", ca.CertFile, "--tls-key", ca.KeyFile}, extra...)
	return startServer(t, "https", ca.client(), args)
}

// sharedGoCache returns GOCACHE=<the test process's build cache>: module
// downloads stay hermetic (GOMODCACHE is fresh per GoEnv), but builds do
// not recompile the standard library for every go command run.
func sharedGoCache(t *testing.T) string {
	t.Helper()
	goCacheOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		if err == nil {
			goCacheDir = strings.TrimSpace(string(out))
		}
	})
	if goCacheDir == "" || goCacheDir == "off" {
		return "GOCACHE=" + filepath.Join(t.TempDir(), "gocache")
	}
	return "GOCACHE=" + goCacheDir
}

var (
	goCacheOnce sync.Once
	goCacheDir  string
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// addToken runs `modferry token add` and returns the secret.
func addToken(t *testing.T, store, name, scopes string) string {
	t.Helper()
	if !strings.HasPrefix(store, "s3://") {
		// A new store's directory, as an admin makes it: token add
		// creates no store.
		if err := os.MkdirAll(store, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx := exec.Command(modferryBin, "token", "add", "--store", store, "--name", name, "--scope", scopes)
	out, err := ctx.Output()
	if err != nil {
		t.Fatalf("token add %s: %v", name, err)
	}
	secret := strings.TrimSpace(string(out))
	if !strings.HasPrefix(secret, "mf_") || strings.Contains(secret, "\n") {
		t.Fatalf("token add printed %q, want the secret alone", out)
	}
	return secret
}

// TestGoCommandAuth: the real go command, over HTTPS with a test CA,
// through .netrc, GOAUTH=netrc and a GOAUTH command, with a read token;
// without a token it fails with 401; a read token cannot publish or delete.
func TestGoCommandAuth(t *testing.T) {
	up := testupstream.New(t)
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	read := addToken(t, store, "ci", "read")
	ca := newTestCA(t)
	url := serveTLS(t, store, ca)
	host := strings.TrimPrefix(url, "https://")

	// The go command only sends credentials over HTTPS, and matches a
	// .netrc machine against the host *with* its port.
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, fmt.Appendf(nil, "machine %s login x password %s\n", host, read), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "goauth.sh")
	if err := os.WriteFile(script, fmt.Appendf(nil, "#!/bin/sh\nprintf '%%s\\n\\n%%s\\n\\n' '%s' 'Authorization: Bearer %s'\n", url, read), 0o700); err != nil {
		t.Fatal(err)
	}

	env := func(extra ...string) []string {
		return append(testupstream.GoEnv(t, url), append([]string{"SSL_CERT_FILE=" + ca.CAFile, sharedGoCache(t)}, extra...)...)
	}
	build := func(t *testing.T, env []string) {
		dir := filepath.Join(t.TempDir(), "app")
		testupstream.WriteProject(t, "app", dir)
		for _, args := range [][]string{{"mod", "download", "all"}, {"build", "./..."}} {
			if _, err := testupstream.RunGo(t, dir, env, args...); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("no token", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "app")
		testupstream.WriteProject(t, "app", dir)
		out, err := testupstream.RunGo(t, dir, env(), "mod", "download", "all")
		if err == nil {
			t.Fatal("go mod download without a token succeeded")
		}
		if !strings.Contains(out, "401 Unauthorized") || !strings.Contains(out, "authentication required") {
			t.Fatalf("go command output does not show the 401 and its reason:\n%s", out)
		}
	})
	t.Run("NETRC", func(t *testing.T) { build(t, env("NETRC="+netrc)) })
	t.Run("GOAUTH=netrc", func(t *testing.T) {
		e := env("GOAUTH=netrc")
		home := ""
		for _, kv := range e {
			if v, ok := strings.CutPrefix(kv, "HOME="); ok {
				home = v
			}
		}
		os.MkdirAll(home, 0o755)
		b, _ := os.ReadFile(netrc)
		if err := os.WriteFile(filepath.Join(home, ".netrc"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		build(t, e)
	})
	t.Run("GOAUTH command", func(t *testing.T) { build(t, env("GOAUTH=sh "+script)) })

	t.Run("read token cannot publish or delete", func(t *testing.T) {
		src := t.TempDir()
		os.WriteFile(filepath.Join(src, "go.mod"), []byte("module corp.example/x\n"), 0o644)
		cmd := exec.Command(modferryBin, "publish", "--server", url, "--token", read, "corp.example/x@v1.0.0", src)
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+ca.CAFile)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "403 Forbidden") {
			t.Fatalf("publish with a read token: %v\n%s", err, out)
		}
		cmd = exec.Command(modferryBin, "delete", "--server", url, "--token", read, "--reason", "x", "modferry.test/lib@v1.0.0")
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+ca.CAFile)
		out, err = cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "403 Forbidden") {
			t.Fatalf("delete with a read token: %v\n%s", err, out)
		}
	})

	t.Run("TLS 1.2 at least", func(t *testing.T) {
		conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("server accepted TLS 1.1")
		}
		conn, err = tls.Dial("tcp", host, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS 1.2+ handshake: %v", err)
		}
		conn.Close()
	})
}

// TestBruteForce: 1,000 bad tokens from one address are throttled with
// 429 and Retry-After, while a good token keeps getting 200 quickly, from
// another address during the attack and from the same one after waiting.
func TestBruteForce(t *testing.T) {
	up := testupstream.New(t)
	store := filepath.Join(t.TempDir(), "store")
	mf(t, "import", "--store", store, "--cache-dir", up.Dir)
	good := addToken(t, store, "good", "read")
	// Registered before serve, so it runs after the server has stopped
	// and written its last summary.
	t.Cleanup(func() {
		out := mf(t, "audit", "show", "--store", store, "--action", "auth.failure", "--json")
		var es []audit.Entry
		if err := json.Unmarshal([]byte(out), &es); err != nil || len(es) == 0 {
			t.Fatalf("no auth.failure entry: %v\n%s", err, out)
		}
		if es[0].Detail["clients"] == "" || !strings.Contains(es[0].Detail["clients"], "127.0.0.1=") {
			t.Errorf("auth.failure does not name the client: %+v", es[0])
		}
		mf(t, "audit", "verify", "--store", store)
	})
	// A failure comes back every 3 s (20 per minute): the 1,000 requests
	// must fit between two refills on a busy machine.
	url := serve(t, store, "--auth-failures", "20", "--auth-window", "60s")
	path := url + "/modferry.test/lib/@v/list"

	get := func(c *http.Client, token string) (*http.Response, time.Duration) {
		req, _ := http.NewRequest("GET", path, nil)
		req.SetBasicAuth("x", token)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, time.Since(start)
	}
	attacker := &http.Client{Timeout: 10 * time.Second}
	// Linux routes all of 127/8 to loopback: a second client address.
	other := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
	}}

	codes := map[int]int{}
	var slowest time.Duration
	for i := range 1000 {
		resp, _ := get(attacker, fmt.Sprintf("mf_%043d", i))
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		if i%100 == 50 {
			resp, d := get(other, good)
			if resp.StatusCode != 200 {
				t.Fatalf("good token from another address during the attack: %d", resp.StatusCode)
			}
			slowest = max(slowest, d)
		}
	}
	t.Logf("bad tokens: %v; good token during the attack: slowest %v", codes, slowest)
	if codes[401] > 25 || codes[429] < 970 || codes[401]+codes[429] != 1000 {
		t.Fatalf("bad tokens were not throttled: %v", codes)
	}
	if slowest > time.Second {
		t.Errorf("good token took %v during the attack", slowest)
	}
	// The bucket is empty: a bad token is refused (if a failure came back
	// since the loop, it uses it up first).
	for i := 0; ; i++ {
		resp, _ := get(attacker, fmt.Sprintf("mf_%043d", 1000+i))
		if resp.StatusCode == 429 {
			break
		}
		if i == 3 {
			t.Fatalf("bad token after the attack: %d, want 429", resp.StatusCode)
		}
	}
	resp, _ := get(attacker, good)
	if resp.StatusCode != 429 {
		t.Fatalf("good token from the throttled address: %d, want 429 until Retry-After", resp.StatusCode)
	}
	var wait int
	fmt.Sscan(resp.Header.Get("Retry-After"), &wait)
	if wait < 1 || wait > 3 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	time.Sleep(time.Duration(wait) * time.Second)
	if resp, d := get(attacker, good); resp.StatusCode != 200 {
		t.Fatalf("good token after Retry-After: %d (%v)", resp.StatusCode, d)
	}
}

// TestMistypedStore: a verb that reads or manages a store never creates
// one: a mistyped --store fails, naming it, and leaves nothing behind —
// token add would otherwise hand out a token that protects nothing.
func TestMistypedStore(t *testing.T) {
	typo := filepath.Join(t.TempDir(), "stroe")
	for _, args := range [][]string{
		{"token", "add", "--store", typo, "--name", "ci", "--scope", "read"},
		{"token", "list", "--store", typo},
		{"inventory", "--store", typo},
		{"prune", "--store", typo},
		{"delete", "--store", typo, "--reason", "x", "corp.example/a@v1.0.0"},
	} {
		out, err := mfErr(t, args...)
		if err == nil || !strings.Contains(out, "no store at "+typo) {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
		if _, err := os.Stat(typo); !os.IsNotExist(err) {
			t.Fatalf("%v created %s", args, typo)
		}
	}
}

// TestTokenRevokeByName: token revoke takes the name as token add does
// (--name), or as its argument.
func TestTokenRevokeByName(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	addToken(t, store, "a", "read")
	addToken(t, store, "b", "read")
	mf(t, "token", "revoke", "--store", store, "--name", "a")
	mf(t, "token", "revoke", "--store", store, "b")
	if out := mf(t, "token", "list", "--store", store, "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("tokens after revoking both:\n%s", out)
	}
	if _, err := mfErr(t, "token", "revoke", "--store", store, "x", "--name", "y"); err == nil {
		t.Error("two different names were accepted")
	}
}
