package auth

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter defaults.
const (
	DefaultFailures   = 20
	DefaultWindow     = time.Minute
	DefaultMaxClients = 10000
	// summaryClients bounds the per-client counts a Summary keeps.
	summaryClients = 100
)

// A Limiter limits failed authentications per client: each client may fail
// Failures times in a burst, then once per Window/Failures (a token bucket
// refilled at Failures per Window). The server asks Allow before
// authenticating a request and answers 429 Too Many Requests with a
// Retry-After of RetryAfter when it says no; it calls Fail after each
// failed authentication.
//
// Clients are keyed by IP address without port; IPv6 addresses by their
// /64 prefix, since one host commonly holds a whole /64. Memory is bounded:
// at most MaxClients clients are tracked, forgetting first those whose
// bucket has refilled, then arbitrary ones.
//
// The zero Limiter is ready to use. It is safe for concurrent use.
type Limiter struct {
	Failures   int              // burst of failures allowed; 0 means DefaultFailures
	Window     time.Duration    // time to refill Failures; 0 means DefaultWindow
	MaxClients int              // clients tracked at most; 0 means DefaultMaxClients
	Now        func() time.Time // nil means time.Now

	mu        sync.RWMutex
	clients   map[string]*bucket
	lastSweep time.Time

	refused atomic.Int64 // requests refused since the last summary

	sumMu    sync.Mutex
	since    time.Time
	failures int
	perAddr  map[string]int
	others   int
}

type bucket struct {
	tokens float64   // failures still allowed at time last
	last   time.Time // when tokens was computed
}

func (l *Limiter) params() (burst float64, perSec float64, max int) {
	f, w, m := l.Failures, l.Window, l.MaxClients
	if f <= 0 {
		f = DefaultFailures
	}
	if w <= 0 {
		w = DefaultWindow
	}
	if m <= 0 {
		m = DefaultMaxClients
	}
	return float64(f), float64(f) / w.Seconds(), m
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// level returns b's tokens at time now.
func (b *bucket) level(now time.Time, burst, perSec float64) float64 {
	return math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*perSec)
}

// Allow reports whether a request from addr (an IP address, with or
// without a port, as in http.Request.RemoteAddr) may try to authenticate.
func (l *Limiter) Allow(addr string) bool {
	return l.RetryAfter(addr) == 0
}

// RetryAfter returns how long addr must wait before Allow says yes again:
// zero if it may try now. A positive answer counts as a refused request in
// the summary.
func (l *Limiter) RetryAfter(addr string) time.Duration {
	key := ClientKey(addr)
	burst, perSec, _ := l.params()
	now := l.now()
	l.mu.RLock()
	b := l.clients[key]
	var lvl float64
	if b != nil {
		lvl = b.level(now, burst, perSec)
	}
	l.mu.RUnlock()
	if b == nil || lvl >= 1 {
		return 0
	}
	l.refused.Add(1)
	wait := time.Duration((1 - lvl) / perSec * float64(time.Second))
	return max(wait, time.Millisecond)
}

// Fail records a failed authentication from addr.
func (l *Limiter) Fail(addr string) {
	key := ClientKey(addr)
	burst, perSec, maxClients := l.params()
	now := l.now()
	l.mu.Lock()
	if l.clients == nil {
		l.clients = map[string]*bucket{}
	}
	b := l.clients[key]
	if b == nil {
		if len(l.clients) >= maxClients {
			l.evict(now, burst, perSec, maxClients)
		}
		b = &bucket{tokens: burst, last: now}
		l.clients[key] = b
	}
	b.tokens = math.Max(0, b.level(now, burst, perSec)-1)
	b.last = now
	l.mu.Unlock()

	l.sumMu.Lock()
	if l.perAddr == nil {
		l.perAddr = map[string]int{}
	}
	if l.since.IsZero() {
		l.since = now
	}
	l.failures++
	if _, ok := l.perAddr[key]; ok || len(l.perAddr) < summaryClients {
		l.perAddr[key]++
	} else {
		l.others++
	}
	l.sumMu.Unlock()
}

// evict makes room for one client. At most once a second it drops every
// client whose bucket has refilled (they are as good as new); if that frees
// nothing, it drops an arbitrary client. Called with mu held.
func (l *Limiter) evict(now time.Time, burst, perSec float64, maxClients int) {
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for k, b := range l.clients {
			if b.level(now, burst, perSec) >= burst {
				delete(l.clients, k)
			}
		}
	}
	for k := range l.clients {
		if len(l.clients) < maxClients {
			break
		}
		delete(l.clients, k)
	}
}

// Tracked returns the number of clients the Limiter remembers.
func (l *Limiter) Tracked() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.clients)
}

// A Summary counts failed authentications over a period, for one
// auth.failure audit entry per period instead of one per request.
type Summary struct {
	Since, Until time.Time
	Failures     int            // failed authentications
	Refused      int            // requests refused by Allow/RetryAfter
	Clients      map[string]int // failures per client key, for at most 100 clients
	Others       int            // failures from clients beyond those
}

// Empty reports whether nothing happened in the period.
func (s Summary) Empty() bool { return s.Failures == 0 && s.Refused == 0 }

// Detail renders s for an audit entry's Detail: counts, and "clients" as
// "KEY=N,…" with the most failures first.
func (s Summary) Detail() map[string]string {
	type kv struct {
		k string
		n int
	}
	var list []kv
	for k, n := range s.Clients {
		list = append(list, kv{k, n})
	}
	slices.SortFunc(list, func(a, b kv) int { return cmp.Or(b.n-a.n, strings.Compare(a.k, b.k)) })
	var b strings.Builder
	for i, e := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", e.k, e.n)
	}
	d := map[string]string{
		"since":    s.Since.UTC().Format(time.RFC3339),
		"until":    s.Until.UTC().Format(time.RFC3339),
		"failures": strconv.Itoa(s.Failures),
		"refused":  strconv.Itoa(s.Refused),
		"clients":  b.String(),
	}
	if s.Others > 0 {
		d["other_failures"] = strconv.Itoa(s.Others)
	}
	return d
}

// TakeSummary returns the counts since the last call (or the first
// failure) and starts a new period. A server calls it once a minute and
// writes an audit entry unless the summary is Empty.
func (l *Limiter) TakeSummary() Summary {
	now := l.now()
	l.sumMu.Lock()
	defer l.sumMu.Unlock()
	s := Summary{Since: l.since, Until: now, Failures: l.failures, Clients: l.perAddr, Others: l.others,
		Refused: int(l.refused.Swap(0))}
	if s.Since.IsZero() {
		s.Since = now
	}
	l.since, l.failures, l.perAddr, l.others = now, 0, nil, 0
	return s
}

// ClientKey returns the key the Limiter uses for addr: the IP address
// without port, the /64 prefix for IPv6, or addr itself (at most 64 bytes)
// if it is not an address.
func ClientKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if len(host) > 64 {
			host = host[:64]
		}
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
