package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// HTTPServer is a ConnServer backed by net/http's http.Server, which is
// given the connections through a listener adapter: HTTP/1.1 itself, and
// HTTP/2 by the TLSNextProto it configures for "h2" (its own call to
// Handshake is a no-op on a handshaken connection). The plain listener's
// redirect server is one too, fed plain connections.
type HTTPServer struct {
	srv  *http.Server
	ln   *connListener
	done chan struct{} // closed when srv.Serve has returned
}

// NewHTTPServer starts srv on a listener adapter and returns it. srv must
// not have TLSConfig or ConnState set: the accept path handshakes and
// counts connections itself.
func NewHTTPServer(srv *http.Server) *HTTPServer {
	s := &HTTPServer{srv: srv, ln: newConnListener(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = srv.Serve(s.ln) // returns when the adapter is closed, by Shutdown or Close
	}()
	return s
}

// ServeConn hands c to the http.Server.
func (s *HTTPServer) ServeConn(c *tls.Conn, _ ConnInfo) { s.ln.push(c) }

// servePlain hands a plain connection to the http.Server.
func (s *HTTPServer) servePlain(c net.Conn) { s.ln.push(c) }

// Shutdown is http.Server.Shutdown: in-flight requests finish, idle
// connections close, HTTP/2 connections get GOAWAY.
func (s *HTTPServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close is http.Server.Close, and waits until Serve has returned.
func (s *HTTPServer) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// connListener is a net.Listener whose connections are pushed by the
// accept path, already accepted (and handshaken, on the https side).
type connListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push waits until the server takes c, or closes c if the listener is
// closed (the server is shutting down or was closed).
func (l *connListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is not a socket's: the connections come from the accept path.
func (l *connListener) Addr() net.Addr { return adapterAddr{} }

type adapterAddr struct{}

func (adapterAddr) Network() string { return "tlsfront" }
func (adapterAddr) String() string  { return "accept path" }
