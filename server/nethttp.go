package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// HTTPServer is a ConnServer backed by net/http's http.Server, which is
// given the connections through a listener adapter (its own call to
// Handshake is a no-op on a handshaken connection). A Generation has one
// for HTTP/1.1 and one for HTTP/2 (served by the TLSNextProto net/http
// configures for "h2"), because net/http drains the two differently (see
// Shutdown); the plain listener's redirect server is an HTTP/1.1 one, fed
// plain connections.
type HTTPServer struct {
	srv   *http.Server
	http2 bool
	ln    *connListener
	done  chan struct{} // closed when srv.Serve has returned
	conns atomic.Int64  // HTTP/1.1 connections not yet closed or hijacked

	draining atomic.Bool // Shutdown began
}

// NewHTTPServer starts srv, for HTTP/1.1 connections (and plain ones), on
// a listener adapter and returns it. srv must not have TLSConfig or
// ConnState set: the accept path handshakes and counts connections itself.
func NewHTTPServer(srv *http.Server) *HTTPServer { return newHTTPServer(srv, false) }

// NewHTTP2Server is NewHTTPServer for connections that negotiated "h2".
func NewHTTP2Server(srv *http.Server) *HTTPServer { return newHTTPServer(srv, true) }

func newHTTPServer(srv *http.Server, h2 bool) *HTTPServer {
	s := &HTTPServer{srv: srv, http2: h2, ln: newConnListener(), done: make(chan struct{})}
	if h2 {
		s.ln.refuse = refuseHTTP2
	}
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.conns.Add(-1)
		}
	}
	go func() {
		defer close(s.done)
		_ = srv.Serve(s.ln) // returns when the adapter is closed, by Shutdown or Close
	}()
	return s
}

// Draining reports whether Shutdown began.
func (s *HTTPServer) Draining() bool { return s.draining.Load() }

// ServeConn hands c to the http.Server.
func (s *HTTPServer) ServeConn(c *tls.Conn, _ ConnInfo) { s.ln.push(c) }

// servePlain hands a plain connection to the http.Server.
func (s *HTTPServer) servePlain(c net.Conn) { s.ln.push(c) }

// Shutdown drains. HTTP/2: http.Server.Shutdown, whose hook sends GOAWAY;
// it is repeated every second, so that a connection that reached the
// server just as the first one ran gets its GOAWAY too, and a connection
// handed over later gets a GOAWAY of ours before any stream (refuseHTTP2).
// HTTP/1.1: not http.Server.Shutdown, which drops a request read after it
// began (the first request of a connection handed over just before would
// be lost), but keep-alives off: idle connections close now, each request
// being served is answered with Connection: close, a connection handed
// over later still has its first request served; Shutdown returns when
// every connection is closed.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	if s.http2 {
		for {
			tctx, cancel := context.WithTimeout(ctx, time.Second)
			err := s.srv.Shutdown(tctx)
			cancel()
			if err == nil || ctx.Err() != nil {
				return err
			}
		}
	}
	s.srv.SetKeepAlivesEnabled(false)
	wait := time.Millisecond
	for s.conns.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
			wait = min(2*wait, 100*time.Millisecond)
		}
	}
	return nil
}

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
	refuse func(net.Conn) // what becomes of a connection pushed once closed; nil closes it
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push waits until the server takes c, or refuses c if the listener is
// closed (the server was shut down or closed).
func (l *connListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		if l.refuse != nil {
			l.refuse(c)
			return
		}
		c.Close()
	}
}

// refuseHTTP2 turns away an HTTP/2 connection the way a draining server
// does (RFC 9113 §6.8): its SETTINGS, then GOAWAY with last stream 0, so
// the client knows no stream was processed and retries elsewhere; then it
// reads what the client sends until it closes (or a second passes) before
// closing, so that the GOAWAY is not lost to a reset.
func refuseHTTP2(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	fr := http2.NewFramer(c, nil)
	if fr.WriteSettings() != nil || fr.WriteGoAway(0, http2.ErrCodeNo, nil) != nil {
		return
	}
	_, _ = io.Copy(io.Discard, c)
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

func (l *connListener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// Addr is not a socket's: the connections come from the accept path.
func (l *connListener) Addr() net.Addr { return adapterAddr{} }

type adapterAddr struct{}

func (adapterAddr) Network() string { return "tlsfront" }
func (adapterAddr) String() string  { return "accept path" }
