package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// TLSServer accepts connections on a listener, runs each TLS handshake on
// a goroutine of its own (its deep crypto stack ends with it, so the
// goroutine that then serves the connection keeps a small one) and hands
// the connection on by ALPN: "h2" to an http.Server (net/http's HTTP/2),
// anything else to the H1 engine. The daemon's own accept loop is package
// server's (which also counts connections and takes a Generation per
// connection); this one serves the proxy tests and benchmarks as tlsfront
// serves, with none of that.
type TLSServer struct {
	TLSConfig *tls.Config
	H1        *H1
	// H2 serves the "h2" connections: Serve is called on a ConnListener
	// fed by the dispatch. Its ConnState hook sees them from StateNew on.
	H2 *http.Server
	// H2Own, when set, serves the "h2" connections instead of H2:
	// tlsfront's own HTTP/2 server (its handler a *Handler's ServeH2).
	H2Own *H2Server
	// HandshakeTimeout bounds the handshake (server.read_header_timeout
	// bounds it together with the first request's head); zero means 10s.
	HandshakeTimeout time.Duration
	// Trusted reports whether a peer is a trusted proxy (ConnInfo.Trusted,
	// through TrustedPeer: never a PROXY connection naming no client).
	Trusted func(netip.Addr) bool
	// HandshakeError, when set, is told of each failed handshake.
	HandshakeError func(remote net.Addr, err error)

	once sync.Once
	h2ln *ConnListener
	mu   sync.Mutex
	lns  map[net.Listener]bool
	wg   sync.WaitGroup
}

func (s *TLSServer) init() {
	s.once.Do(func() {
		s.lns = map[net.Listener]bool{}
		if s.H2 != nil {
			s.h2ln = NewConnListener(nil)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				_ = s.H2.Serve(s.h2ln)
			}()
		}
	})
}

// Serve accepts connections on ln until it is closed, and returns the
// error that ended it (net.ErrClosed after Close or Shutdown).
func (s *TLSServer) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	s.lns[ln] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		go s.handshake(c, time.Now())
	}
}

// handshake runs c's handshake and dispatches it.
func (s *TLSServer) handshake(raw net.Conn, since time.Time) {
	timeout := s.HandshakeTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tc := tls.Server(raw, s.TLSConfig)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		if s.HandshakeError != nil {
			s.HandshakeError(raw.RemoteAddr(), err)
		}
		tc.Close()
		return
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case "h2":
		if s.H2Own != nil {
			go s.H2Own.ServeConn(tc) // a fresh goroutine, as below
			return
		}
		if s.h2ln == nil || !s.h2ln.Put(tc) {
			tc.Close()
		}
		return
	case "", "http/1.1":
	default: // acme-tls/1: the handshake was all
		tc.Close()
		return
	}
	info := ConnInfo{Since: since}
	if ap, err := netip.ParseAddrPort(tc.RemoteAddr().String()); err == nil {
		info.Remote = ap
		info.Trusted = TrustedPeer(s.Trusted, ap.Addr().Unmap(), tc)
	}
	cs := tc.ConnectionState()
	info.TLS = &cs
	hc := s.H1.newConn(tc, &info)
	go hc.run() // a fresh goroutine: this one's stack grew for the handshake
}

// Shutdown stops accepting, then drains both engines: in-flight requests
// finish, idle connections close. When ctx ends first, the remaining
// connections are closed.
func (s *TLSServer) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	var err1, err2 error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err1 = s.H1.Shutdown(ctx)
	}()
	switch {
	case s.H2Own != nil:
		err2 = s.H2Own.Shutdown(ctx)
		if err2 != nil {
			s.H2Own.Close()
		}
	case s.H2 != nil:
		err2 = s.H2.Shutdown(ctx)
		if err2 != nil {
			s.H2.Close()
		}
	}
	wg.Wait()
	s.wg.Wait()
	return errors.Join(err1, err2)
}

// ConnListener is a net.Listener whose connections are handed to it with
// Put: how connections the dispatch already accepted and handshook reach
// an http.Server.
type ConnListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

// NewConnListener returns an open ConnListener reporting addr (nil: an
// unspecified TCP address).
func NewConnListener(addr net.Addr) *ConnListener {
	if addr == nil {
		addr = &net.TCPAddr{}
	}
	return &ConnListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

// Put hands c to the listener's Accept; false when the listener is closed.
func (l *ConnListener) Put(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *ConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *ConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *ConnListener) Addr() net.Addr { return l.addr }
