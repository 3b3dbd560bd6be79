package server

import (
	"net/http"

	"tlsfront/proxy"
)

// newConnServers returns g's ConnServers by ALPN protocol. This is where
// protocol engines plug in: an engine for "h2" or "http/1.1" is built here
// and returned for its protocol, from what g holds: its configuration
// (g.cfg: limits such as server.idle_timeout, server.max_header_bytes,
// proxy.send_timeout), its request handler (g.handler, the proxy) and
// g.observe, which must see every finished request (metrics and access
// log). h is g.handler already observed, for engines that take an
// http.Handler; o are the limits as proxy.ServerOptions. The Generation
// closes every distinct ConnServer of the map when it is closed, and asks
// each to drain with Shutdown at SIGTERM.
//
// Today both protocols are net/http's http.Server (one each: they drain
// differently, see HTTPServer.Shutdown).
func (g *Generation) newConnServers(h http.Handler, o proxy.ServerOptions) map[string]ConnServer {
	return map[string]ConnServer{
		"http/1.1": NewHTTPServer(proxy.NewServer(h, o)),
		"h2":       NewHTTP2Server(proxy.NewServer(h, o)),
	}
}

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
