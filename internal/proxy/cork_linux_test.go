package proxy_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/cork"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/proxy"
)

// corkConn notes, for each write on the connection, whether the socket
// was corked at that moment.
type corkConn struct {
	*net.TCPConn
	mu     *sync.Mutex
	writes *[]bool
}

func (c corkConn) NetConn() net.Conn { return c.TCPConn }

func (c corkConn) Write(p []byte) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var v int
	rc.Control(func(fd uintptr) {
		v, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK)
	})
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	*c.writes = append(*c.writes, v != 0)
	c.mu.Unlock()
	return c.TCPConn.Write(p)
}

type corkListener struct {
	net.Listener
	mu     sync.Mutex
	writes []bool
}

func (l *corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return corkConn{c.(*net.TCPConn), &l.mu, &l.writes}, nil
}

// take returns the writes noted since the last call.
func (l *corkListener) take() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.writes
	l.writes = nil
	return w
}

// corkServer serves h on a listener that notes whether the socket was
// corked at each write, with the connection in the requests' contexts as
// modferry serve keeps it.
func corkServer(t *testing.T, h http.Handler) (*httptest.Server, *corkListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &corkListener{Listener: ln}
	ts := httptest.NewUnstartedServer(h)
	ts.Listener = cl
	ts.Config.ConnContext = cork.ConnContext
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, cl
}

type corkCase struct {
	path   string
	corked bool
}

// checkCorked requests each path in turn on one connection and checks
// that the first write of its answer, the one that holds the header, was
// corked or not.
func checkCorked(t *testing.T, ts *httptest.Server, cl *corkListener, cases []corkCase) {
	t.Helper()
	for _, c := range cases {
		resp, err := ts.Client().Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", c.path, resp.Status)
		}
		w := cl.take()
		if len(w) == 0 {
			t.Fatalf("%s: no write seen", c.path)
		}
		if w[0] != c.corked {
			t.Errorf("%s: first of %d writes corked=%v, want %v", c.path, len(w), w[0], c.corked)
		}
	}
}

// TestZipsCorked: a zip's answer (whose body net/http hands to sendfile
// after writing the header on its own) is written while the connection is
// corked, so that the header leaves with the body; other answers are not,
// and the connection is uncorked for the next request. Zips streamed from
// a disk store and zips from the zip cache of a store kept elsewhere.
func TestZipsCorked(t *testing.T) {
	t.Run("disk", func(t *testing.T) {
		_, repo, h := newTestServer(t, proxy.Options{})
		// A zip larger than net/http's buffers, so that its body is written
		// while the handler runs, as every real zip is.
		big := module.Version{Path: "modferry.test/big", Version: "v1.0.0"}
		if err := repo.Add(context.Background(), big, modules.Files{
			Info:    strings.NewReader(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`),
			Mod:     strings.NewReader("module modferry.test/big\n"),
			Zip:     bytes.NewReader(bytes.Repeat([]byte("PK-zip "), 20000)),
			ZipHash: "h1:fake",
		}); err != nil {
			t.Fatal(err)
		}
		ts, cl := corkServer(t, h)
		checkCorked(t, ts, cl, []corkCase{
			{"/modferry.test/big/@v/v1.0.0.zip", true},
			{"/modferry.test/big/@v/v1.0.0.mod", false},
			{"/modferry.test/big/@v/v1.0.0.zip", true},
			{"/modferry.test/big/@v/v1.0.0.info", false},
			{"/modferry.test/m/@v/list", false},
		})
	})
	t.Run("zip cache", func(t *testing.T) {
		st := newRemoteStore()
		addRemote(t, &modules.Repo{Store: st})
		r := startReplica(t, st, proxy.Options{}, true)
		ts, cl := corkServer(t, r.h)
		p := "/" + remoteVersions[0].Path + "/@v/" + remoteVersions[0].Version
		checkCorked(t, ts, cl, []corkCase{
			{p + ".zip", true}, // filled from the store
			{p + ".mod", false},
			{p + ".zip", true}, // from the cache
		})
		if r.h.ZipCacheServed() != 2 {
			t.Errorf("zips served from the cache: %d, want 2", r.h.ZipCacheServed())
		}
	})
}
