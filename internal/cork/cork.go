// Package cork lets an HTTP handler hold back the partial TCP segments of
// its response until it returns (TCP_CORK, Linux), so that a response
// whose body goes out with sendfile leaves in full segments: net/http
// writes the header and the first 512 bytes of the body on their own
// before it hands the rest to sendfile, and with TCP_NODELAY (Go's
// default) that write leaves as a small segment of its own, which the
// client wakes up, reads and parses apart. Corked, it goes out in the
// first full segment of the body, as nginx sends files with tcp_nopush.
//
// The server keeps each connection in its requests' contexts
// (ConnContext); Response corks the connection of a request that came
// over plain TCP and HTTP/1.x, and its done func uncorks, which sends
// what is held at once. Elsewhere (TLS, HTTP/2, other systems, a request
// without the connection in its context) Response does nothing.
package cork

import (
	"context"
	"net"
	"net/http"
)

type connKey struct{}

// ConnContext is an http.Server ConnContext: it keeps c in the context
// of every request that arrives on it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// Response corks the connection r arrived on; call done when the
// response is written (before the handler returns), which uncorks it.
func Response(r *http.Request) (done func()) {
	if r.TLS != nil || r.ProtoMajor != 1 {
		return nop
	}
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	tc := tcpConn(c)
	if tc == nil || setCork(tc, true) != nil {
		return nop
	}
	return func() { setCork(tc, false) }
}

func nop() {}

// tcpConn unwraps c (a connection wrapped by listeners such as
// connlimit's, which have a NetConn method) down to its *net.TCPConn.
func tcpConn(c net.Conn) *net.TCPConn {
	for range 8 {
		switch x := c.(type) {
		case *net.TCPConn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}
