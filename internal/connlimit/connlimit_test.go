package connlimit

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testServer serves, with small thresholds:
//
//	GET  /big    a 32 MiB file (?n=N: its first N bytes) as
//	             http.ServeContent sends it: sendfile
//	GET  /small  a few bytes
//	POST /upload reads the body through Body and reports the error
type bigResult struct {
	client string
	err    error
}

type testServer struct {
	url       string
	addr      string
	uploadErr chan error
	bigDone   chan bigResult
	mu        sync.Mutex
	closed    int
}

func startServer(t *testing.T, o Options) *testServer {
	t.Helper()
	return startServerOn(t, o, nil)
}

// startServerOn is startServer with cl, if not nil, wrapping the listener
// under connlimit's.
func startServerOn(t *testing.T, o Options, cl *countingListener) *testServer {
	t.Helper()
	big := filepath.Join(t.TempDir(), "big")
	data := make([]byte, 32<<20)
	rand.Read(data)
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{uploadErr: make(chan error, 10), bigDone: make(chan bigResult, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(big)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		n := fi.Size()
		if q := r.URL.Query().Get("n"); q != "" {
			n, _ = strconv.ParseInt(q, 10, 64)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(n))
		_, err = io.CopyN(w, f, n) // what ServeContent does: ReadFrom, sendfile
		ts.bigDone <- bigResult{r.RemoteAddr, err}
	})
	mux.HandleFunc("GET /small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		defer Body(w, r, o)()
		_, err := io.Copy(io.Discard, r.Body)
		ts.uploadErr <- err
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second, IdleTimeout: 5 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				ts.mu.Lock()
				ts.closed++
				ts.mu.Unlock()
			}
		}}
	if cl != nil {
		cl.Listener = ln
		ln = cl
	}
	go hs.Serve(Listen(ln, o))
	t.Cleanup(func() { hs.Close() })
	ts.addr = ln.Addr().String()
	ts.url = "http://" + ts.addr
	return ts
}

// download fetches /big whole with a normal client and fails t if it
// does not get all 32 MiB.
func (ts *testServer) download(t *testing.T) {
	t.Helper()
	resp, err := http.Get(ts.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 32<<20 {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
}

// checkLatency fetches /small with a fresh client connection until stop
// is closed and fails t if any fetch is slow or fails.
func (ts *testServer) checkLatency(t *testing.T, stop chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var worst time.Duration
	for n := 0; ; n++ {
		select {
		case <-stop:
			if n < 5 {
				t.Errorf("only %d requests of the normal client", n)
			}
			t.Logf("normal client: %d requests, worst latency %v", n, worst)
			return
		default:
		}
		start := time.Now()
		resp, err := client.Get(ts.url + "/small")
		if err != nil {
			t.Errorf("normal client: %v", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		worst = max(worst, time.Since(start))
		if time.Since(start) > 500*time.Millisecond {
			t.Errorf("normal client waited %v", time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSlowClientsDropped(t *testing.T) {
	o := Options{MinRate: 1 << 20, Grace: 300 * time.Millisecond, PerClient: 50}
	ts := startServer(t, o)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go ts.checkLatency(t, stop, &wg)
	defer func() {
		close(stop)
		wg.Wait()
	}()

	// A slow reader: asks for 32 MiB and reads nothing.
	reader, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	reader.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(reader, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")

	// A slow writer: sends a body one byte every 20 ms.
	writer, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	fmt.Fprintf(writer, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	go func() {
		for range 1000 {
			if _, err := writer.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// A normal client downloads the same 32 MiB meanwhile.
	ts.download(t)

	for done := false; !done; {
		select {
		case res := <-ts.bigDone:
			if res.client != reader.LocalAddr().String() {
				continue // the normal download's handler
			}
			if res.err == nil {
				t.Fatal("the slow reader got the whole file")
			}
			t.Logf("slow reader dropped: %v", res.err)
			done = true
		case <-time.After(5 * time.Second):
			t.Fatal("the slow reader was not dropped within 5s")
		}
	}
	select {
	case err := <-ts.uploadErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("slow writer: %v, want a deadline error", err)
		}
		t.Logf("slow writer dropped: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the slow writer was not dropped within 5s")
	}
	// The slow writer's connection is closed: its next bytes fail or it
	// reads the end of the connection.
	writer.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(writer)
	if resp, err := http.ReadResponse(br, nil); err == nil {
		io.Copy(io.Discard, resp.Body)
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("slow writer's connection still open: %v", err)
		}
	}
}

func TestPerClient(t *testing.T) {
	ts := startServer(t, Options{PerClient: 3})
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Make sure the server has accepted them.
	for _, c := range held {
		fmt.Fprintf(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v", err)
		}
	}
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		t.Fatal("a fourth connection from the same address was served")
	}
	c.Close()
	// Once one closes, a new one is served.
	held[0].Close()
	time.Sleep(100 * time.Millisecond)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(ts.url + "/small")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after one closed: %v", err)
	}
	resp.Body.Close()
}

// deadlineConn counts the write deadlines set on it and discards writes.
type deadlineConn struct {
	net.Conn
	sets int
	last time.Time
}

func (d *deadlineConn) Write(p []byte) (int, error) { return len(p), nil }
func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.sets++
	d.last = t
	return nil
}

// TestWriteDeadlineHeadroom: back-to-back small writes (keep-alive
// answers, each followed by the clearing of the write deadline that
// net/http does after every response) move the write deadline once, not
// once each, and it is never earlier than the budget asks nor more than
// the headroom later.
func TestWriteDeadlineHeadroom(t *testing.T) {
	o := Options{MinRate: 4 << 10, Grace: time.Minute}
	dc := &deadlineConn{}
	c := &conn{Conn: dc, l: &listener{o: o}, w: newBudget(o)}
	for range 1000 {
		start := time.Now()
		if _, err := c.Write(make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
		want := start.Add(o.Grace + 300*time.Second/(4<<10))
		if dc.last.Before(want) || dc.last.Sub(want) > o.headroom()+time.Since(start) {
			t.Fatalf("deadline %v for a write that needs %v (headroom %v)", dc.last, want, o.headroom())
		}
		c.SetWriteDeadline(time.Time{})
	}
	if dc.sets > 5 {
		t.Errorf("%d write deadlines set for 1000 writes", dc.sets)
	}
	// A deadline net/http sets wins when it is earlier.
	user := time.Now().Add(time.Second)
	c.SetWriteDeadline(user)
	c.Write([]byte("x"))
	if !dc.last.Equal(user) {
		t.Errorf("deadline %v, want net/http's %v", dc.last, user)
	}
	// Cleared, it no longer bounds the next write: the budget does.
	c.SetWriteDeadline(time.Time{})
	start := time.Now()
	c.Write([]byte("x"))
	if want := start.Add(o.Grace); dc.last.Before(want) {
		t.Errorf("deadline %v after net/http's was cleared, want the budget's (%v or later)", dc.last, want)
	}
}

// countingListener hands out connections that count the ReadFrom calls
// made on them (for a file, each is one run of sendfile) and, with sndbuf
// set, have a send buffer that small, so that the transfer goes at the
// pace the client reads.
type countingListener struct {
	net.Listener
	sndbuf int
	calls  atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if l.sndbuf > 0 {
		tc.SetWriteBuffer(l.sndbuf)
	}
	return &countingConn{TCPConn: tc, calls: &l.calls}, nil
}

type countingConn struct {
	*net.TCPConn
	calls *atomic.Int64
}

func (c *countingConn) ReadFrom(r io.Reader) (int64, error) {
	c.calls.Add(1)
	return c.TCPConn.ReadFrom(r)
}

// TestFileInOneCall: a client that keeps up gets a file in one sendfile
// run, not in one per chunk.
func TestFileInOneCall(t *testing.T) {
	cl := &countingListener{}
	ts := startServerOn(t, Options{MinRate: 4 << 10, Grace: time.Minute}, cl)
	ts.download(t)
	if res := <-ts.bigDone; res.err != nil {
		t.Fatal(res.err)
	}
	if got := cl.calls.Load(); got != 1 {
		t.Errorf("32 MiB sent in %d calls of ReadFrom, want 1", got)
	}
}

// readPaced reads a response of n bytes from /big through a connection
// with a small receive buffer, step bytes every pause, and returns how
// many bytes it read and the error that ended it.
func readPaced(ts *testServer, n int64, step int, pause time.Duration) (int64, error) {
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	fmt.Fprintf(c, "GET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", n)
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, step), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var got int64
	buf := make([]byte, step)
	for got < n {
		k, err := io.ReadFull(resp.Body, buf[:min(int64(step), n-got)])
		got += int64(k)
		if err != nil {
			return got, err
		}
		time.Sleep(pause)
	}
	return got, nil
}

// TestPacedReaders: with the send buffer small, a file goes at the
// client's pace and its write deadline passes several times during one
// response. A client above MinRate gets all of it; one below is cut off
// once its budget is spent.
func TestPacedReaders(t *testing.T) {
	const n = 3 << 20
	o := Options{MinRate: 256 << 10, Grace: 400 * time.Millisecond}
	cl := &countingListener{sndbuf: 64 << 10}
	ts := startServerOn(t, o, cl)

	// ~1.6 MB/s, six times MinRate.
	start := time.Now()
	got, err := readPaced(ts, n, 16<<10, 10*time.Millisecond)
	if err != nil || got != n {
		t.Fatalf("client above MinRate: %d of %d bytes, %v", got, n, err)
	}
	if res := <-ts.bigDone; res.err != nil {
		t.Fatalf("client above MinRate: the server says %v", res.err)
	}
	calls := cl.calls.Load()
	t.Logf("client above MinRate: %d bytes in %v, %d calls of ReadFrom", got, time.Since(start).Round(time.Millisecond), calls)
	if calls < 2 {
		t.Fatalf("the write deadline never passed during the transfer (%d calls): the test proves nothing", calls)
	}

	// ~80 KB/s, a third of MinRate: cut off long before the 40 s it
	// would take (TestSendFileBudget has the budget's arithmetic). The
	// client notices only when it has read what the socket buffers hold;
	// the handler ends when the budget is spent.
	start = time.Now()
	go readPaced(ts, n, 4<<10, 50*time.Millisecond)
	select {
	case res := <-ts.bigDone:
		if !errors.Is(res.err, os.ErrDeadlineExceeded) {
			t.Fatalf("client below MinRate: the server says %v, want a deadline error", res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client below MinRate: not cut off within 5s")
	}
	t.Logf("client below MinRate: cut off after %v", time.Since(start).Round(time.Millisecond))
}

// pacedConn stands in for a TCP connection whose client takes rate bytes
// a second. Its ReadFrom, given a file's section (an *io.LimitedReader),
// waits for as long as the client takes the section or until the write
// deadline, and then consumes what was sent, as sendfile does; with
// overread, also that many bytes more, as a copy through a buffer may.
type pacedConn struct {
	net.Conn
	rate     int64
	overread int64
	deadline time.Time
	calls    int
}

func (p *pacedConn) SetWriteDeadline(t time.Time) error { p.deadline = t; return nil }

func (p *pacedConn) ReadFrom(r io.Reader) (int64, error) {
	p.calls++
	lr := r.(*io.LimitedReader)
	need := time.Duration(lr.N * int64(time.Second) / p.rate)
	d := time.Until(p.deadline)
	if p.deadline.IsZero() || need <= d {
		time.Sleep(need)
		n := lr.N
		lr.N = 0
		return n, nil
	}
	time.Sleep(max(d, 0))
	m := int64(max(d, 0)) * p.rate / int64(time.Second)
	lr.N -= m + p.overread
	return m, os.ErrDeadlineExceeded
}

// TestSendFileBudget: a file's section goes on after each deadline while
// the client keeps up, and stops once its budget is spent, or at the
// first deadline when the call read more than it sent.
func TestSendFileBudget(t *testing.T) {
	const minRate = 1 << 20
	o := Options{MinRate: minRate, Grace: 40 * time.Millisecond}
	f, err := os.Open(os.Args[0]) // any file: pacedConn does not read it
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name     string
		rate     int64
		overread int64
		ok       bool
	}{
		{"four times MinRate", 4 * minRate, 0, true},
		{"a quarter of MinRate", minRate / 4, 0, false},
		{"above MinRate, copied through a buffer", 4 * minRate, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const size = 1 << 20
			pc := &pacedConn{rate: tc.rate, overread: tc.overread}
			c := &conn{Conn: pc, l: &listener{o: o}, w: newBudget(o)}
			start := time.Now()
			n, err := c.ReadFrom(&io.LimitedReader{R: f, N: size})
			t.Logf("%d bytes in %d calls, %v: %v", n, pc.calls, time.Since(start).Round(time.Millisecond), err)
			if tc.ok {
				if err != nil || n != size {
					t.Fatalf("%d of %d bytes, %v", n, size, err)
				}
				if pc.calls < 2 {
					t.Fatalf("%d calls: the deadline never passed, the test proves nothing", pc.calls)
				}
				return
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) || n >= size {
				t.Fatalf("%d of %d bytes, %v; want a deadline error before the end", n, size, err)
			}
			if limit := 5; pc.calls > limit {
				t.Errorf("went on for %d calls, want at most %d", pc.calls, limit)
			}
		})
	}
}
