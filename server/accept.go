package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"tlsfront/metrics"
	"tlsfront/proxy"
	"tlsfront/tlsconf"
)

// conn is an accepted client connection and the Generation it took at
// accept: held until the connection closes, whoever closes it (a
// ConnServer, a hijacking handler, a failed handshake).
type conn struct {
	net.Conn
	gen      *Generation
	m        *metrics.Metrics
	accepted time.Time
	tc       *tls.Conn // the TLS side, for the metrics; nil on the plain listener
	closed   atomic.Bool
}

// NetConn returns the connection below, so that proxy.ProxyHeader finds
// the PROXY protocol connection through this wrapper (and *tls.Conn's).
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		if c.tc != nil {
			c.m.ConnState(c.tc, http.StateClosed)
		}
		c.gen.release()
	}
	return err
}

// listenerTLSConfig is the *tls.Config of every https listener: each
// ClientHello is answered by the per-hello config of the Generation its
// connection took at accept, whatever was published since. Its own ticket
// keys (Go's automatic ones, rotated daily) serve Generations without
// tls.ticket_keys, across reloads.
func listenerTLSConfig() *tls.Config {
	return tlsconf.ListenerConfig(func(hello *tls.ClientHelloInfo) *tlsconf.State {
		return hello.Conn.(*conn).gen.tls // tls.Server is only ever given a *conn
	})
}

// take returns the current Generation with a reference for one connection.
func (d *Daemon) take() *Generation {
	for {
		if g := d.cur.Load(); g.acquire() {
			return g
		}
		// Replaced and closed between the load and the acquire: the next
		// load sees its successor.
	}
}

// acceptLoop accepts on ln until it is closed: connections past
// server.max_connections are refused inside ln (see listeners.bind); each
// other one takes the current Generation, whose server.max_conns_per_client
// it then counts against (a direct client now, a client named by a PROXY
// header when the header is read). On the https listener its PROXY header
// and TLS handshake follow on a goroutine of their own, then it is handed to
// the Generation's ConnServer for its ALPN protocol; on the plain listener
// it goes to the Generation's redirect server at once.
func (d *Daemon) acceptLoop(ln net.Listener, https bool) {
	defer d.loops.Done()
	var delay time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if d.lns.closedOnPurpose(ln) {
				return
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() { // EMFILE and the like, as net/http does
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				d.logger.Error().Err(err).Dur("retry_in", delay).Msg("accept failed")
				time.Sleep(delay)
				continue
			}
			d.serveErr <- err
			return
		}
		delay = 0
		g := d.take()
		accepted := time.Now()
		var nc net.Conn = raw
		if https && g.expectsProxyHeader(addrPort(raw.RemoteAddr()).Addr()) {
			nc = proxy.ExpectProxyHeader(raw, g.handshakeTimeout)
		}
		if g.clientLimit != nil { // the client the PROXY header names, once it is read
			var ok bool
			if nc, ok = g.clientLimit.Admit(nc); !ok {
				g.release() // refused and closed
				continue
			}
		}
		c := &conn{Conn: nc, gen: g, m: d.metrics, accepted: accepted}
		if !https {
			g.plain.servePlain(c)
			continue
		}
		d.handshakes.Add(1)
		go d.handshake(c)
	}
}

// handshake reads c's PROXY header (if one is due) and runs its TLS
// handshake, both within read_header_timeout of the accept, then hands the
// connection to its ConnServer.
func (d *Daemon) handshake(c *conn) {
	defer d.handshakes.Done()
	g := c.gen
	tc := tls.Server(c, d.tlsConfig)
	c.tc = tc
	d.metrics.ConnState(tc, http.StateNew)
	if g.handshakeTimeout > 0 {
		_ = c.SetDeadline(c.accepted.Add(g.handshakeTimeout))
	}
	if err := tc.Handshake(); err != nil {
		d.handshakeFailed(c, tc, err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	d.metrics.ConnState(tc, http.StateActive) // counts the handshake
	srv := g.server(tc.ConnectionState().NegotiatedProtocol)
	if srv == nil {
		tc.Close() // acme-tls/1: the handshake was the whole validation
		return
	}
	srv.ServeConn(tc, ConnInfo{Client: addrPort(tc.RemoteAddr()), Accepted: c.accepted})
}

// handshakeFailed counts and logs a failed handshake and closes the
// connection. A client that spoke plain HTTP gets net/http's 400 answer.
// The log line is net/http's, written through metrics.HandshakeErrorLog,
// which classifies it (and counts client-certificate refusals).
func (d *Daemon) handshakeFailed(c *conn, tc *tls.Conn, err error) {
	reason := err.Error()
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
		_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		reason = "client sent an HTTP request to an HTTPS server"
	}
	d.handshakeLog.Printf("http: TLS handshake error from %s: %s", c.RemoteAddr(), reason)
	tc.Close()
}

// looksLikeHTTP reports whether a TLS record header is the start of an
// HTTP request instead (net/http's test).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

func addrPort(a net.Addr) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
