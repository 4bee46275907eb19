package cork

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/connlimit"
)

// wrapped hides the *net.TCPConn behind a NetConn method, as TLS and
// connlimit's connections do.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

func TestTCPConnUnwraps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := tcpConn(wrapped{wrapped{c}}); got != c {
		t.Errorf("tcpConn(wrapped twice) = %v, want the TCP connection", got)
	}
	if got := tcpConn(nil); got != nil {
		t.Errorf("tcpConn(nil) = %v", got)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := tcpConn(wrapped{a}); got != nil {
		t.Errorf("tcpConn(pipe) = %v, want nil", got)
	}
}

// TestResponse serves requests through connlimit's listener with
// ConnContext, as modferry serve does, and looks at the socket's TCP_CORK
// while the handler runs: on while corked, off once done is called.
func TestResponse(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_CORK is Linux's")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = connlimit.Listen(ln, connlimit.Options{MinRate: 1 << 10})
	state := func(r *http.Request) string {
		c, _ := r.Context().Value(connKey{}).(net.Conn)
		tc := tcpConn(c)
		if tc == nil {
			return "no TCP connection"
		}
		on, err := corked(tc)
		if err != nil {
			return err.Error()
		}
		if on {
			return "corked"
		}
		return "open"
	}
	srv := &http.Server{
		ConnContext: ConnContext,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before := state(r)
			done := Response(r)
			during := state(r)
			done()
			io.WriteString(w, before+" "+during+" "+state(r))
		}),
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 2 { // twice on one connection: the second starts open again
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got, want := string(b), "open corked open"; got != want {
			t.Errorf("request %d: TCP_CORK before, during and after: %q, want %q", i, got, want)
		}
	}
}

// TestResponseElsewhere: over TLS (where no sendfile is taken), or
// without the connection in the context (a server without ConnContext),
// Response does nothing and done is safe to call.
func TestResponseElsewhere(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_CORK is Linux's")
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := Response(r)
		during := "no connection"
		if c, _ := r.Context().Value(connKey{}).(net.Conn); c != nil {
			on, err := corked(tcpConn(c))
			switch {
			case err != nil:
				during = err.Error()
			case on:
				during = "corked"
			default:
				during = "open"
			}
		}
		done()
		io.WriteString(w, during)
	})
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.Config.ConnContext = ConnContext
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(h)
	defer plain.Close()
	for _, c := range []struct {
		s    *httptest.Server
		want string
	}{{tlsSrv, "open"}, {plain, "no connection"}} {
		resp, err := c.s.Client().Get(c.s.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != c.want {
			t.Errorf("%s: TCP_CORK while the handler ran: %q, want %q", c.s.URL, b, c.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(ConnContext(r.Context(), nil))
	Response(r)()
}
