package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestLimiterBurstAndRefill(t *testing.T) {
	c := newClock()
	l := &Limiter{Failures: 5, Window: 10 * time.Second, Now: c.Now}
	addr := "192.0.2.1:5555"
	for i := 0; i < 5; i++ {
		if !l.Allow(addr) {
			t.Fatalf("refused after %d failures", i)
		}
		l.Fail(addr)
	}
	if l.Allow(addr) {
		t.Fatal("allowed after 5 failures")
	}
	if ra := l.RetryAfter("192.0.2.1:6666"); ra != 2*time.Second { // another port, same client
		t.Errorf("RetryAfter = %v, want 2s", ra)
	}
	if !l.Allow("192.0.2.2:5555") {
		t.Error("another client refused")
	}
	c.Advance(2 * time.Second) // one failure's worth
	if !l.Allow(addr) {
		t.Fatal("refused after refill")
	}
	l.Fail(addr)
	if l.Allow(addr) {
		t.Fatal("allowed again at once")
	}
	c.Advance(10 * time.Second)
	for i := 0; i < 5; i++ {
		if !l.Allow(addr) {
			t.Fatalf("full refill: refused after %d", i)
		}
		l.Fail(addr)
	}
}

func TestLimiterZeroValue(t *testing.T) {
	var l Limiter
	for i := 0; i < DefaultFailures; i++ {
		if !l.Allow("198.51.100.7") {
			t.Fatalf("refused after %d", i)
		}
		l.Fail("198.51.100.7")
	}
	if l.Allow("198.51.100.7") {
		t.Error("allowed after DefaultFailures")
	}
	if ra := l.RetryAfter("198.51.100.7"); ra <= 0 || ra > DefaultWindow/DefaultFailures {
		t.Errorf("RetryAfter = %v", ra)
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	c := newClock()
	l := &Limiter{Failures: 3, Window: time.Minute, MaxClients: 100, Now: c.Now}
	for i := 0; i < 10000; i++ {
		l.Fail(fmt.Sprintf("10.%d.%d.%d:1", i>>16, i>>8&255, i&255))
		if i%1000 == 0 {
			c.Advance(time.Millisecond)
		}
	}
	if n := l.Tracked(); n > 100 {
		t.Errorf("tracking %d clients, cap 100", n)
	}
	// Refilled clients go first: after a full window, new clients push old
	// ones out and the newest is still limited.
	c.Advance(2 * time.Minute)
	for i := 0; i < 3; i++ {
		l.Fail("203.0.113.9")
	}
	if l.Allow("203.0.113.9") {
		t.Error("newest client not limited")
	}
	if n := l.Tracked(); n != 1 {
		t.Errorf("after a sweep: %d clients, want 1", n)
	}
}

func TestLimiterSummary(t *testing.T) {
	c := newClock()
	l := &Limiter{Failures: 2, Now: c.Now}
	start := c.Now()
	if s := l.TakeSummary(); !s.Empty() {
		t.Errorf("empty summary = %+v", s)
	}
	c.Advance(time.Second)
	l.Fail("192.0.2.1:1")
	l.Fail("192.0.2.1:2")
	l.Fail("[2001:db8::1]:443")
	l.Fail("[2001:db8::2]:443") // same /64
	l.Allow("192.0.2.1:3")      // refused
	for i := 0; i < 150; i++ {
		l.Fail(fmt.Sprintf("10.0.%d.%d", i/250, i%250))
	}
	c.Advance(time.Minute)
	s := l.TakeSummary()
	if s.Failures != 154 || s.Refused != 1 || s.Others != 152-100 || len(s.Clients) != 100 {
		t.Errorf("summary: failures %d refused %d others %d clients %d", s.Failures, s.Refused, s.Others, len(s.Clients))
	}
	if s.Clients["192.0.2.1"] != 2 || s.Clients["2001:db8::/64"] != 2 {
		t.Errorf("clients = %v", s.Clients)
	}
	if !s.Since.Equal(start) || !s.Until.Equal(c.Now()) {
		t.Errorf("period %v – %v", s.Since, s.Until)
	}
	d := s.Detail()
	if d["failures"] != "154" || d["refused"] != "1" || d["other_failures"] != "52" || d["clients"][:12] != "192.0.2.1=2," && d["clients"][:16] != "2001:db8::/64=2," {
		t.Errorf("Detail = %v", d)
	}
	if s2 := l.TakeSummary(); !s2.Empty() || !s2.Since.Equal(c.Now()) {
		t.Errorf("second summary = %+v", s2)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:80":           "192.0.2.1",
		"192.0.2.1":              "192.0.2.1",
		"[::ffff:192.0.2.1]:80":  "192.0.2.1",
		"[2001:db8:1:2:3::4]:80": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":      "fe80::/64",
		"2001:db8::1":            "2001:db8::/64",
		"not-an-ip":              "not-an-ip",
	} {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := &Limiter{Failures: 1000, MaxClients: 50}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				addr := fmt.Sprintf("10.0.%d.%d:1", g, i%100)
				if l.Allow(addr) {
					l.Fail(addr)
				}
				if i%500 == 0 {
					l.TakeSummary()
				}
			}
		}()
	}
	wg.Wait()
	if l.Tracked() > 50 {
		t.Errorf("tracking %d clients", l.Tracked())
	}
}

func TestFromRequest(t *testing.T) {
	tok := "mf_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
	for _, tt := range []struct {
		name   string
		set    func(*http.Request)
		want   string
		wantOK bool
	}{
		{"none", func(r *http.Request) {}, "", false},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, tok, true},
		{"bearer lower case", func(r *http.Request) { r.Header.Set("Authorization", "bearer  "+tok+" ") }, tok, true},
		{"bearer empty", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, "", false},
		{"basic password", func(r *http.Request) { r.SetBasicAuth("anyone", tok) }, tok, true},
		{"basic user only", func(r *http.Request) { r.SetBasicAuth(tok, "") }, tok, true},
		{"basic user not a token", func(r *http.Request) { r.SetBasicAuth("alice", "") }, "", false},
		{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, "", false},
		{"bad basic", func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, "", false},
	} {
		r := httptest.NewRequest("GET", "/example.com/m/@v/list", nil)
		tt.set(r)
		got, ok := FromRequest(r)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: FromRequest = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

// ExampleLimiter shows the server-side use of Tokens and Limiter together.
func ExampleLimiter() {
	var limiter Limiter
	var tokens *Tokens // from Open(STORE/tokens)
	_ = func(w http.ResponseWriter, r *http.Request) (Info, bool) {
		if wait := limiter.RetryAfter(r.RemoteAddr); wait > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
			http.Error(w, "too many failed authentications", http.StatusTooManyRequests)
			return Info{}, false
		}
		secret, ok := FromRequest(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="modferry"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return Info{}, false
		}
		info, err := tokens.Authenticate(secret)
		switch {
		case errors.Is(err, ErrUnknownToken), errors.Is(err, ErrExpired):
			limiter.Fail(r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Basic realm="modferry"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return Info{}, false
		case err != nil:
			http.Error(w, "tokens unavailable", http.StatusInternalServerError)
			return Info{}, false
		case !info.Has(ScopeRead):
			http.Error(w, "token lacks the read scope", http.StatusForbidden)
			return Info{}, false
		}
		return info, true
	}
	// Once a minute: one audit entry (auth.failure) unless s.Empty().
	s := limiter.TakeSummary()
	fmt.Println(s.Empty())
	// Output: true
}
