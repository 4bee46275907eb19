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
	"sync"
	"testing"
	"time"
)

// testServer serves, with small thresholds:
//
//	GET  /big    a 32 MiB file through http.ServeContent (sendfile)
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
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(fi.Size()))
		_, err = io.Copy(w, f) // what ServeContent does: ReadFrom, sendfile
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
	go hs.Serve(Listen(ln, o))
	t.Cleanup(func() { hs.Close() })
	ts.addr = ln.Addr().String()
	ts.url = "http://" + ts.addr
	return ts
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
	resp, err := http.Get(ts.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 32<<20 {
		t.Fatalf("normal download: %d bytes, %v", n, err)
	}

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
