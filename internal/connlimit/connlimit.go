// Package connlimit bounds what a client can hold on to: connections per
// client address, and a minimum transfer rate for what the server sends
// and for request bodies it reads, so that a client that stops reading a
// response, or sends a body a byte at a time, is cut off.
//
// A rate, not a fixed timeout: a fixed WriteTimeout long enough for a
// 500 MB zip on a slow link would let an idle client hold a connection
// for as long. Instead each connection has a time budget of Grace: time
// spent blocked on the client uses it up, and every byte the client takes
// pays back 1/MinRate seconds, up to Grace again. A client that keeps up
// at MinRate or faster never runs out; one that stalls is dropped Grace
// after it stalled (a write deadline moves in steps of up to a second,
// not at every write, so the drop may come that much later). Time the
// server spends working between reads and writes does not count.
//
// Phases without a transfer are left to net/http's own timeouts:
// ReadHeaderTimeout (and the TLS handshake, bounded by it) and
// IdleTimeout between requests.
package connlimit

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Options configure Listen and Body.
type Options struct {
	// PerClient bounds the open connections of one client IP address;
	// connections beyond it are closed at once. 0 means no bound.
	PerClient int
	// Exempt lists addresses (reverse proxies) that PerClient does not
	// apply to.
	Exempt []netip.Prefix
	// MinRate is the slowest transfer, in bytes per second, a client may
	// keep up once Grace is used; 0 turns the rate rule off.
	MinRate int64
	// Grace is the time a transfer may stall before the connection is
	// dropped; 0 means 30 seconds.
	Grace time.Duration
	// Rejected, if set, is called for each connection closed because of
	// PerClient.
	Rejected func(addr netip.Addr)
}

func (o Options) grace() time.Duration {
	if o.Grace <= 0 {
		return 30 * time.Second
	}
	return o.Grace
}

// budget is the time a transfer in one direction may still stall.
type budget struct {
	rate  int64
	grace time.Duration
	left  time.Duration
}

func newBudget(o Options) budget {
	return budget{rate: o.MinRate, grace: o.grace(), left: o.grace()}
}

// deadline returns the deadline for a transfer of n bytes starting now.
func (b *budget) deadline(now time.Time, n int64) time.Time {
	return now.Add(b.left + b.pay(n))
}

// spent accounts for n bytes moved in elapsed time.
func (b *budget) spent(n int64, elapsed time.Duration) {
	b.left = min(b.grace, max(0, b.left+b.pay(n)-elapsed))
}

func (b *budget) pay(n int64) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(b.rate)
}

// Listen wraps ln: each accepted connection counts against its client's
// PerClient bound and, with a MinRate, enforces it on everything written.
func Listen(ln net.Listener, o Options) net.Listener {
	return &listener{Listener: ln, o: o, open: map[netip.Addr]int{}}
}

type listener struct {
	net.Listener
	o    Options
	mu   sync.Mutex
	open map[netip.Addr]int
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := clientAddr(c)
		if l.o.PerClient > 0 && !l.exempt(addr) {
			l.mu.Lock()
			over := l.open[addr] >= l.o.PerClient
			if !over {
				l.open[addr]++
			}
			l.mu.Unlock()
			if over {
				c.Close()
				if l.o.Rejected != nil {
					l.o.Rejected(addr)
				}
				continue
			}
		} else {
			addr = netip.Addr{} // not counted
		}
		return &conn{Conn: c, l: l, addr: addr, w: newBudget(l.o)}, nil
	}
}

func (l *listener) exempt(a netip.Addr) bool {
	for _, p := range l.o.Exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func clientAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// chunk bounds one write, so that the deadline follows the transfer.
const chunk = 256 << 10

type conn struct {
	net.Conn
	l    *listener
	addr netip.Addr // counted against PerClient if valid

	mu        sync.Mutex
	w         budget
	userWrite time.Time // the write deadline net/http set, if any
	armed     time.Time // the write deadline set on Conn
	closed    bool
}

// headroom is how much later than the budget asks a write deadline may
// be set, so that the deadline is moved about once per headroom rather
// than for every write: moving it costs more than a small write. A
// stalled client is then dropped at most headroom after its budget ran
// out.
func (o Options) headroom() time.Duration {
	return min(time.Second, o.grace()/4)
}

func (c *conn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	c.mu.Unlock()
	if first && c.addr.IsValid() {
		c.l.mu.Lock()
		if c.l.open[c.addr]--; c.l.open[c.addr] <= 0 {
			delete(c.l.open, c.addr)
		}
		c.l.mu.Unlock()
	}
	return c.Conn.Close()
}

func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.userWrite, c.armed = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// SetWriteDeadline sets the caller's write deadline. Clearing it (as
// net/http does after every response) leaves the deadline set on the
// connection as it is when a budget is kept: only a write can miss a
// write deadline, and before every write before moves it to where the
// budget wants it. So a keep-alive connection does not arm and clear
// the deadline's timer once per request.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.userWrite = t
	if t.IsZero() && c.l.o.MinRate > 0 {
		c.mu.Unlock()
		return nil
	}
	c.armed = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

// before sets the deadline for writing n bytes and returns the start
// time. The deadline set stays if it lies between the one the budget asks
// for and headroom after it.
func (c *conn) before(n int64) time.Time {
	now := time.Now()
	c.mu.Lock()
	d := c.w.deadline(now, n)
	switch {
	case !c.userWrite.IsZero() && !c.userWrite.After(d):
		d = c.userWrite
	case !c.armed.Before(d) && c.armed.Sub(d) <= c.l.o.headroom():
		c.mu.Unlock()
		return now
	default:
		d = d.Add(c.l.o.headroom())
		if !c.userWrite.IsZero() && c.userWrite.Before(d) {
			d = c.userWrite
		}
	}
	set := !d.Equal(c.armed)
	c.armed = d
	c.mu.Unlock()
	if set {
		c.Conn.SetWriteDeadline(d)
	}
	return now
}

func (c *conn) after(n int64, start time.Time) {
	c.mu.Lock()
	c.w.spent(n, time.Since(start))
	c.mu.Unlock()
}

func (c *conn) Write(p []byte) (int, error) {
	if c.l.o.MinRate <= 0 {
		return c.Conn.Write(p)
	}
	total := 0
	for len(p) > 0 {
		b := p[:min(len(p), chunk)]
		start := c.before(int64(len(b)))
		n, err := c.Conn.Write(b)
		c.after(int64(n), start)
		total += n
		if err != nil {
			return total, err
		}
		p = p[n:]
	}
	return total, nil
}

// ReadFrom keeps the kernel's sendfile path (net/http hands zips to it).
// A file goes in one call for as long as the client takes it: the write
// deadline is where the budget runs out, and when it passes while the
// client was still taking bytes, they pay back their time and the call
// goes on from where it stopped (sendfile moved the file's offset by what
// it sent, no more). So a client that keeps up gets the whole file from
// one sendfile, however large, and one that falls behind or stalls is
// cut off when its budget is spent, as with Write. Other readers (and a
// file without a limit, which net/http does not pass) go in chunks with a
// deadline each: a copy that stops at a deadline may have read more than
// it wrote, so it cannot go on.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok || c.l.o.MinRate <= 0 {
		if ok {
			return rf.ReadFrom(r)
		}
		return io.Copy(writerOnly{c}, r)
	}
	src, lr := r, (*io.LimitedReader)(nil)
	if l, ok := r.(*io.LimitedReader); ok {
		src, lr = l.R, l
	}
	if _, ok := src.(*os.File); ok && lr != nil {
		return c.sendFile(rf, lr)
	}
	var total int64
	for {
		n := int64(chunk)
		if lr != nil {
			n = min(n, lr.N)
		}
		if n <= 0 {
			return total, nil
		}
		start := c.before(n)
		m, err := rf.ReadFrom(&io.LimitedReader{R: src, N: n})
		c.after(m, start)
		total += m
		if lr != nil {
			lr.N -= m
		}
		if err != nil || m < n {
			return total, err
		}
	}
}

// sendFile sends a file's section in as few calls as the budget allows.
// It goes on after a deadline only if the call moved exactly as many bytes
// through lr as it wrote: sendfile does, while a copy through a buffer
// (what net falls back to where sendfile cannot take the file) may have
// read more than the client took.
func (c *conn) sendFile(rf io.ReaderFrom, lr *io.LimitedReader) (int64, error) {
	var total int64
	for {
		start, left := c.before(0), lr.N
		m, err := rf.ReadFrom(lr)
		c.after(m, start)
		total += m
		if err == nil || m == 0 || left-lr.N != m || !errors.Is(err, os.ErrDeadlineExceeded) || !c.keptUp() {
			return total, err
		}
	}
}

// keptUp reports whether a write that missed its deadline may go on: the
// client has budget left and the deadline was the budget's, not one that
// net/http set.
func (c *conn) keptUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.left > 0 && (c.userWrite.IsZero() || time.Now().Before(c.userWrite))
}

// NetConn returns the connection c wraps (as tls.Conn's NetConn does), so
// that a handler can reach its socket (package cork).
func (c *conn) NetConn() net.Conn { return c.Conn }

type writerOnly struct{ io.Writer }

// Body makes r's body enforce o's MinRate and Grace on the client while
// the handler reads it, through the connection's read deadline
// (http.ResponseController). A client that stalls gets a read error
// matching os.ErrDeadlineExceeded. Call it before the handler reads the
// body, and call finish when the handler returns: net/http reads what the
// handler left of the body before it reuses the connection, and finish
// bounds that read by what is left of the budget.
func Body(w http.ResponseWriter, r *http.Request, o Options) (finish func()) {
	if o.MinRate <= 0 || r.Body == nil || r.Body == http.NoBody {
		return func() {}
	}
	b := &body{ReadCloser: r.Body, rc: http.NewResponseController(w), b: newBudget(o)}
	r.Body = b
	return func() {
		if !b.done {
			b.rc.SetReadDeadline(time.Now().Add(b.b.left))
		}
	}
}

type body struct {
	io.ReadCloser
	rc   *http.ResponseController
	b    budget
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	now := time.Now()
	// The read may wait as long as the budget lasts.
	b.rc.SetReadDeadline(b.b.deadline(now, 0))
	n, err := b.ReadCloser.Read(p)
	b.b.spent(int64(n), time.Since(now))
	if err == io.EOF {
		// Done with the body: net/http's own read of the connection
		// (it watches for the client going away) must have no deadline.
		// After any other error the deadline stays, so that net/http
		// does not wait for the rest of the body either.
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
