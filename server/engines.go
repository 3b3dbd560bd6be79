package server

import (
	"context"
	"crypto/tls"
	"net/netip"
	"sync"

	"tlsfront/proxy"
)

// newConnServers returns g's ConnServers by ALPN protocol. This is where
// protocol engines plug in: an engine for "h2" or "http/1.1" is built here
// and returned for its protocol, from what g holds: its configuration
// (g.cfg: limits such as server.idle_timeout, server.max_header_bytes,
// proxy.send_timeout) and its request path (g.handler, which writes each
// finished request's entry to g.observe: metrics and access log). o are
// the limits as proxy.ServerOptions; h2 are the daemon's HTTP/2 counters,
// shared by every Generation's server (nil: the server's own). The
// Generation closes every distinct ConnServer of the map when it is
// closed, and asks each to drain with Shutdown at SIGTERM.
//
// HTTP/1.1 is tlsfront's own engine (proxy.H1). HTTP/2 is what
// server.http2 names: "tlsfront", tlsfront's own server (proxy.H2Server,
// reaching the request path through Handler.ServeH2); "go", net/http's
// http.Server (through Handler.ServeHTTP); "off", none: "h2" is not
// offered in ALPN then (alpnProtocols), so no connection needs it.
func (g *Generation) newConnServers(o proxy.ServerOptions, h2 *proxy.H2Counters) map[string]ConnServer {
	m := map[string]ConnServer{
		"http/1.1": &h1Server{e: proxy.NewH1(proxy.H1Options{
			Server:            g.handler,
			ReadHeaderTimeout: o.ReadHeaderTimeout,
			IdleTimeout:       o.IdleTimeout,
			MaxHeaderBytes:    o.MaxHeaderBytes,
			Logger:            g.logger,
		}), trusted: g.trust.Contains},
	}
	switch g.cfg.Server.HTTP2 {
	case "tlsfront":
		m["h2"] = newH2Server(proxy.NewH2Server(g.handler, g.h2Options(h2)))
	case "go":
		m["h2"] = NewHTTP2Server(proxy.NewServer(g.handler, o))
	}
	return m
}

// alpnProtocols are the ALPN protocols offered for server.http2: "h2"
// first unless it is "off". (ACME's "acme-tls/1" is tlsconf's to add.)
func alpnProtocols(http2 string) []string {
	if http2 == "off" {
		return []string{"http/1.1"}
	}
	return []string{"h2", "http/1.1"}
}

// h2Options maps g's configuration onto tlsfront's HTTP/2 server.
func (g *Generation) h2Options(counters *proxy.H2Counters) proxy.H2Options {
	c := g.cfg
	return proxy.H2Options{
		MaxConcurrentStreams: c.Server.MaxConcurrentStreams,
		MaxHeaderBytes:       c.Server.MaxHeaderBytes,
		MaxGlitches:          c.Server.HTTP2Glitches,
		ReadHeaderTimeout:    c.Server.ReadHeaderTimeout.Duration,
		IdleTimeout:          c.Server.IdleTimeout.Duration,
		SendTimeout:          c.Proxy.SendTimeout.Duration,
		BodyTimeout:          c.Proxy.ClientBodyTimeout.Duration,
		Counters:             counters,
		Logger:               g.logger,
	}
}

// h2Server is tlsfront's HTTP/2 server as a ConnServer.
type h2Server struct {
	s *proxy.H2Server

	mu     sync.Mutex
	closed bool
	conns  sync.WaitGroup // ServeConn goroutines
}

func newH2Server(s *proxy.H2Server) *h2Server { return &h2Server{s: s} }

// ServeConn serves c on a goroutine of its own (the handshake's goroutine
// returns, its stack with it). Its first request's headers are due within
// read_header_timeout of the accept. After Shutdown began, the server
// sends GOAWAY with last stream 0 before any stream; after Close, c is
// closed.
func (s *h2Server) ServeConn(c *tls.Conn, info ConnInfo) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.conns.Done()
		s.s.ServeConnSince(c, info.Accepted)
	}()
}

// Shutdown is H2Server.Shutdown: GOAWAY to every connection, open streams
// finish, idle connections close; connections handed over later get
// GOAWAY with last stream 0.
func (s *h2Server) Shutdown(ctx context.Context) error { return s.s.Shutdown(ctx) }

// Draining reports whether Shutdown began.
func (s *h2Server) Draining() bool { return s.s.Draining() }

// Close closes every connection and waits until their goroutines (reader,
// writer) have ended.
func (s *h2Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.s.Close()
	s.conns.Wait()
	return nil
}

// h1Server is tlsfront's HTTP/1.1 engine as a ConnServer.
type h1Server struct {
	e       *proxy.H1
	trusted func(netip.Addr) bool
}

// ServeConn starts serving c on a goroutine of its own.
func (s *h1Server) ServeConn(c *tls.Conn, info ConnInfo) {
	s.e.Start(c, proxy.ConnInfo{
		Remote:  info.Client,
		Since:   info.Accepted,
		Trusted: proxy.TrustedPeer(s.trusted, info.Client.Addr().Unmap(), c),
	})
}

func (s *h1Server) Shutdown(ctx context.Context) error { return s.e.Shutdown(ctx) }

// Draining reports whether Shutdown began.
func (s *h1Server) Draining() bool { return s.e.Draining() }

func (s *h1Server) Close() error { return s.e.Close() }

// serverOptions are the http.Server limits of g's configuration, for both
// listeners.
func (g *Generation) serverOptions() proxy.ServerOptions {
	return proxy.ServerOptions{
		ReadHeaderTimeout: g.cfg.Server.ReadHeaderTimeout.Duration,
		IdleTimeout:       g.cfg.Server.IdleTimeout.Duration,
		MaxHeaderBytes:    g.cfg.Server.MaxHeaderBytes,
		WriteByteTimeout:  g.cfg.Proxy.SendTimeout.Duration,
		Logger:            g.logger,

		MaxConcurrentStreams: g.cfg.Server.MaxConcurrentStreams,
	}
}

// distinct returns the ConnServers of m once each.
func distinct(m map[string]ConnServer) []ConnServer {
	var out []ConnServer
	seen := map[ConnServer]bool{}
	for _, s := range m {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
