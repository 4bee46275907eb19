package auth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time source for tests.
type clock struct{ n atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.n.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.n.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.n.Add(int64(d)) }

func openTokens(t testing.TB, dir string, c *clock) *Tokens {
	t.Helper()
	tk, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		tk.SetClock(c.Now)
	}
	t.Cleanup(func() { tk.Close() })
	return tk
}

func mustAdd(t testing.TB, tk *Tokens, name string, scopes ...Scope) string {
	t.Helper()
	s, err := tk.Add(name, scopes, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAddAuthenticate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	tk := openTokens(t, dir, nil)
	if tk.Count() != 0 {
		t.Fatal("new Tokens not empty")
	}
	secret := mustAdd(t, tk, "ci-runner.1", ScopeWrite, ScopeRead, ScopeRead)
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != secretLen {
		t.Fatalf("secret %q: want %s and %d characters", secret, SecretPrefix, secretLen)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix)); err != nil || len(raw) != 32 {
		t.Fatalf("secret body: %d bytes, %v", len(raw), err)
	}
	info, err := tk.Authenticate(secret)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "ci-runner.1" || FormatScopes(info.Scopes) != "read,write" || info.Created.IsZero() || !info.Expires.IsZero() {
		t.Errorf("Authenticate = %+v", info)
	}
	if !info.Has(ScopeRead) || !info.Has(ScopeWrite) || info.Has(ScopeDelete) || info.Has(ScopeAdmin) {
		t.Errorf("Has wrong for %v", info.Scopes)
	}
	info.Scopes[0] = ScopeAdmin // the caller's copy
	if again, _ := tk.Authenticate(secret); again.Scopes[0] != ScopeRead {
		t.Error("Info.Scopes shares memory with the Tokens")
	}
	if tk.Count() != 1 {
		t.Errorf("Count = %d", tk.Count())
	}
	other := mustAdd(t, tk, "other", ScopeRead)
	if other == secret {
		t.Fatal("two tokens with one secret")
	}
	for _, bad := range []string{"", "mf_", secret[:len(secret)-1], secret + "x", strings.ToUpper(secret),
		secret[:len(secret)-1] + "A", "Bearer " + secret, strings.Repeat("x", secretLen)} {
		if bad == secret {
			continue
		}
		if _, err := tk.Authenticate(bad); !errors.Is(err, ErrUnknownToken) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnknownToken", bad, err)
		}
	}
	list, err := tk.List()
	if err != nil || len(list) != 2 || list[0].Name != "ci-runner.1" || list[1].Name != "other" {
		t.Fatalf("List = %+v, %v", list, err)
	}
}

func TestFileHoldsNoSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	tk := openTokens(t, dir, nil)
	var secrets []string
	for i := 0; i < 5; i++ {
		s := mustAdd(t, tk, fmt.Sprintf("t%d", i), ScopeRead)
		secrets = append(secrets, s)
		tk.Authenticate(s)
	}
	if err := tk.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	tk.Revoke("t4")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode())
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		for _, s := range secrets {
			body := strings.TrimPrefix(s, SecretPrefix)
			if bytes.Contains(data, []byte(body)) || bytes.Contains(data, []byte(body[:16])) {
				t.Errorf("%s holds a secret", e.Name())
			}
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", fi.Mode())
	}
	data, _ := os.ReadFile(filepath.Join(dir, TokensFile))
	if !bytes.Contains(data, []byte(`"sha256"`)) || bytes.Contains(data, []byte("mf_")) {
		t.Errorf("tokens file:\n%s", data)
	}
}

func TestAddValidates(t *testing.T) {
	c := newClock()
	tk := openTokens(t, t.TempDir(), c)
	mustAdd(t, tk, "taken", ScopeRead)
	for _, tt := range []struct {
		name    string
		scopes  []Scope
		expires time.Time
		want    error
	}{
		{"taken", []Scope{ScopeRead}, time.Time{}, ErrExists},
		{"", []Scope{ScopeRead}, time.Time{}, nil},
		{"Upper", []Scope{ScopeRead}, time.Time{}, nil},
		{"-flag", []Scope{ScopeRead}, time.Time{}, nil},
		{".hidden", []Scope{ScopeRead}, time.Time{}, nil},
		{"a/b", []Scope{ScopeRead}, time.Time{}, nil},
		{"spa ce", []Scope{ScopeRead}, time.Time{}, nil},
		{strings.Repeat("a", 65), []Scope{ScopeRead}, time.Time{}, nil},
		{"ok", nil, time.Time{}, nil},
		{"ok", []Scope{"root"}, time.Time{}, nil},
		{"ok", []Scope{ScopeRead}, c.Now(), nil},
		{"ok", []Scope{ScopeRead}, c.Now().Add(-time.Hour), nil},
	} {
		_, err := tk.Add(tt.name, tt.scopes, tt.expires)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Add(%q, %v, %v) = %v", tt.name, tt.scopes, tt.expires, err)
		}
	}
	if _, err := tk.Add(strings.Repeat("a", 64), []Scope{ScopeAdmin}, time.Time{}); err != nil {
		t.Errorf("64-character name: %v", err)
	}
	if _, err := tk.Add("a0._-z", []Scope{ScopeAdmin}, time.Time{}); err != nil {
		t.Errorf("name with . _ -: %v", err)
	}
	if tk.Count() != 3 {
		t.Errorf("Count = %d", tk.Count())
	}
}

func TestParseScopes(t *testing.T) {
	for in, want := range map[string]string{
		"read":                    "read",
		"write, read":             "read,write",
		"admin,delete,write,read": "read,write,delete,admin",
		"read,read":               "read",
	} {
		got, err := ParseScopes(in)
		if err != nil || FormatScopes(got) != want {
			t.Errorf("ParseScopes(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", ",", "read,", "Read", "all", "read;write"} {
		if got, err := ParseScopes(in); err == nil {
			t.Errorf("ParseScopes(%q) = %v, want error", in, got)
		}
	}
}

func TestExpiry(t *testing.T) {
	c := newClock()
	tk := openTokens(t, t.TempDir(), c)
	exp := c.Now().Add(time.Hour)
	secret, err := tk.Add("short", []Scope{ScopeRead}, exp)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := tk.Authenticate(secret); err != nil || !info.Expires.Equal(exp) {
		t.Fatalf("Authenticate = %+v, %v", info, err)
	}
	c.Advance(time.Hour - time.Nanosecond)
	if _, err := tk.Authenticate(secret); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	c.Advance(time.Nanosecond)
	info, err := tk.Authenticate(secret)
	if !errors.Is(err, ErrExpired) || info.Name != "short" {
		t.Fatalf("at expiry: %+v, %v", info, err)
	}
	if tk.Count() != 1 {
		t.Error("expired token not counted")
	}
}

func TestRevoke(t *testing.T) {
	tk := openTokens(t, t.TempDir(), nil)
	a := mustAdd(t, tk, "a", ScopeRead)
	b := mustAdd(t, tk, "b", ScopeRead)
	if err := tk.Revoke("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Authenticate(a); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := tk.Authenticate(b); err != nil {
		t.Errorf("other token: %v", err)
	}
	err := tk.Revoke("a")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Revoke twice: %v", err)
	}
	// The name can be used again, with a new secret.
	a2 := mustAdd(t, tk, "a", ScopeAdmin)
	if _, err := tk.Authenticate(a); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("old secret of a re-created name: %v", err)
	}
	if info, err := tk.Authenticate(a2); err != nil || !info.Has(ScopeAdmin) {
		t.Errorf("new token: %+v, %v", info, err)
	}
}

func TestReloadFromOtherTokens(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	server := openTokens(t, dir, c)
	server.Count() // first check done: the next is a second away
	cli := openTokens(t, dir, c)
	secret := mustAdd(t, cli, "new", ScopeRead)
	if _, err := server.Authenticate(secret); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("before the next check: %v (the file should not be looked at yet)", err)
	}
	c.Advance(time.Second)
	if _, err := server.Authenticate(secret); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if err := cli.Revoke("new"); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if _, err := server.Authenticate(secret); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("after revoke elsewhere: %v", err)
	}
	// List and Reload look at once.
	mustAdd(t, cli, "listed", ScopeRead)
	if l, err := server.List(); err != nil || len(l) != 1 || l[0].Name != "listed" {
		t.Errorf("List = %+v, %v", l, err)
	}
}

func TestCorruptFileFailsClosed(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	tk := openTokens(t, dir, c)
	secret := mustAdd(t, tk, "a", ScopeRead)
	os.WriteFile(filepath.Join(dir, TokensFile), []byte("{not json"), 0o600)
	c.Advance(time.Second)
	_, err := tk.Authenticate(secret)
	if err == nil || errors.Is(err, ErrUnknownToken) {
		t.Fatalf("Authenticate with a corrupt file: %v", err)
	}
	// The tokens are unknown, not absent: a server must not open up.
	if tk.None() {
		t.Error("None() with a corrupt file: a server would serve without tokens")
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open of a corrupt file succeeded")
	}
	if _, err := tk.Add("b", []Scope{ScopeRead}, time.Time{}); err == nil {
		t.Error("Add over a corrupt file succeeded")
	}
	// Removing the file leaves no tokens, and the Tokens recovers.
	os.Remove(filepath.Join(dir, TokensFile))
	c.Advance(time.Second)
	if _, err := tk.Authenticate(secret); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("after removal: %v", err)
	}
}

func TestLastUsedBatched(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	tk := openTokens(t, dir, c)
	secret := mustAdd(t, tk, "a", ScopeRead)
	path := filepath.Join(dir, TokensFile)
	stampNow := func() stamp { s, _ := statStamp(path); return s }

	// The first use starts one background write; the many after it, none.
	tk.Authenticate(secret)
	tk.wg.Wait()
	first := stampNow()
	t0 := c.Now()
	for i := 0; i < 1000; i++ {
		c.Advance(50 * time.Millisecond) // 50 s in all
		if _, err := tk.Authenticate(secret); err != nil {
			t.Fatal(err)
		}
	}
	tk.wg.Wait()
	if stampNow() != first {
		t.Error("tokens file written again within a minute")
	}
	list, _ := tk.List()
	if !list[0].LastUsed.Equal(c.Now().Truncate(time.Second)) && list[0].LastUsed.Before(c.Now().Add(-time.Second)) {
		t.Errorf("in-memory LastUsed = %v, now %v", list[0].LastUsed, c.Now())
	}
	other := openTokens(t, dir, c)
	ol, _ := other.List()
	if !ol[0].LastUsed.Equal(t0) {
		t.Errorf("LastUsed seen by another Tokens = %v, want %v (the first write)", ol[0].LastUsed, t0)
	}
	c.Advance(15 * time.Second)
	tk.Authenticate(secret)
	tk.wg.Wait()
	if stampNow() == first {
		t.Error("last use not written back after a minute")
	}
	other.Reload()
	ol, _ = other.List()
	if !ol[0].LastUsed.Equal(c.Now()) {
		t.Errorf("LastUsed after a minute = %v, want %v", ol[0].LastUsed, c.Now())
	}
	// Close writes what is pending.
	c.Advance(5 * time.Second)
	tk.Authenticate(secret)
	tk.Close()
	other.Reload()
	ol, _ = other.List()
	if !ol[0].LastUsed.Equal(c.Now()) {
		t.Errorf("LastUsed after Close = %v, want %v", ol[0].LastUsed, c.Now())
	}
}

func TestConcurrentUse(t *testing.T) {
	// Meant for go test -race: readers authenticate while writers add and
	// revoke through two Tokens values on one directory.
	dir := t.TempDir()
	tk := openTokens(t, dir, nil)
	tk.checkEvery = time.Millisecond
	other := openTokens(t, dir, nil)
	stable := mustAdd(t, tk, "stable", ScopeRead)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := tk.Authenticate(stable); err != nil {
					t.Error(err)
					return
				}
				tk.Count()
			}
		}()
	}
	var writers sync.WaitGroup
	for g := 0; g < 4; g++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			w := tk
			if g%2 == 1 {
				w = other
			}
			for i := 0; i < 6; i++ {
				name := fmt.Sprintf("w%d-%d", g, i)
				s, err := w.Add(name, []Scope{ScopeRead}, time.Time{})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := w.Authenticate(s); err != nil {
					t.Errorf("own new token %s: %v", name, err)
				}
				if i%2 == 0 {
					if err := w.Revoke(name); err != nil {
						t.Error(err)
					}
				}
				w.List()
				w.Flush(context.Background())
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if err := other.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := other.Count(); n != 1+4*3 {
		t.Errorf("Count = %d, want %d: an update was lost", n, 1+4*3)
	}
}

const helperEnv = "MODFERRY_AUTH_HELPER"

// TestHelperProcess adds tokens when run as a child by
// TestOtherProcesses, printing each secret on a line.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("only run as a child process")
	}
	dir, prefix, _ := strings.Cut(spec, "|")
	tk, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	for i := 0; i < 10; i++ {
		s, err := tk.Add(fmt.Sprintf("%s-%d", prefix, i), []Scope{ScopeRead}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("SECRET %s\n", s)
	}
}

func TestOtherProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	tk := openTokens(t, dir, nil)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	var children []*child
	for p := 0; p < 4; p++ {
		ch := &child{cmd: exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")}
		ch.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|p%d", helperEnv, dir, p))
		ch.cmd.Stdout, ch.cmd.Stderr = &ch.out, &ch.out
		if err := ch.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, ch)
	}
	var secrets []string
	for _, ch := range children {
		if err := ch.cmd.Wait(); err != nil {
			t.Fatalf("child: %v\n%s", err, ch.out.String())
		}
		sc := bufio.NewScanner(&ch.out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "SECRET "); ok {
				secrets = append(secrets, s)
			}
		}
	}
	if len(secrets) != 40 {
		t.Fatalf("children printed %d secrets", len(secrets))
	}
	if err := tk.Reload(); err != nil {
		t.Fatal(err)
	}
	if tk.Count() != 40 {
		t.Errorf("Count = %d, want 40", tk.Count())
	}
	for _, s := range secrets {
		if _, err := tk.Authenticate(s); err != nil {
			t.Errorf("token added by another process: %v", err)
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	tk := openTokens(b, b.TempDir(), nil)
	var secret string
	for i := 0; i < 1000; i++ {
		secret = mustAdd(b, tk, fmt.Sprintf("t%d", i), ScopeRead)
	}
	b.Run("valid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tk.Authenticate(secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("valid-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tk.Authenticate(secret); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	unknown := newSecret()
	b.Run("unknown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tk.Authenticate(unknown); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
