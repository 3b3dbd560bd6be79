package server

import (
	"context"
	"crypto/tls"
	"net/netip"

	"tlsfront/proxy"
)

// newConnServers returns g's ConnServers by ALPN protocol. This is where
// protocol engines plug in: an engine for "h2" or "http/1.1" is built here
// and returned for its protocol, from what g holds: its configuration
// (g.cfg: limits such as server.idle_timeout, server.max_header_bytes,
// proxy.send_timeout) and its request path (g.handler, which writes each
// finished request's entry to g.observe: metrics and access log). o are
// the limits as proxy.ServerOptions. The Generation closes every distinct
// ConnServer of the map when it is closed, and asks each to drain with
// Shutdown at SIGTERM.
//
// HTTP/1.1 is tlsfront's own engine (proxy.H1); HTTP/2 is net/http's
// http.Server, which reaches the same request path through
// Handler.ServeHTTP, until tlsfront's own HTTP/2 server is plugged in here.
func (g *Generation) newConnServers(o proxy.ServerOptions) map[string]ConnServer {
	return map[string]ConnServer{
		"http/1.1": &h1Server{e: proxy.NewH1(proxy.H1Options{
			Server:            g.handler,
			ReadHeaderTimeout: o.ReadHeaderTimeout,
			IdleTimeout:       o.IdleTimeout,
			MaxHeaderBytes:    o.MaxHeaderBytes,
			Logger:            g.logger,
		}), trusted: g.trust.Contains},
		"h2": NewHTTP2Server(proxy.NewServer(g.handler, o)),
	}
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
