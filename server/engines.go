package server

import (
	"net/http"

	"tlsfront/config"
	"tlsfront/proxy"
)

// newConnServers returns the ConnServers of a Generation by ALPN protocol,
// each serving h (the generation's HTTPS handler, observed by the access
// log and metrics) with the limits of cfg. This is where protocol engines
// plug in: an engine for "h2" or "http/1.1" is built here, from the same
// handler and limits, and returned for its protocol. The Generation closes
// every distinct value of the map when it is closed.
//
// Today both protocols are one net/http http.Server.
func newConnServers(cfg *config.Config, h http.Handler, o proxy.ServerOptions) map[string]ConnServer {
	s := NewHTTPServer(proxy.NewServer(h, o))
	return map[string]ConnServer{"h2": s, "http/1.1": s}
}

// serverOptions are the http.Server limits of cfg, for both listeners.
func serverOptions(cfg *config.Config, g *Generation) proxy.ServerOptions {
	return proxy.ServerOptions{
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.Duration,
		IdleTimeout:       cfg.Server.IdleTimeout.Duration,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		WriteByteTimeout:  cfg.Proxy.SendTimeout.Duration,
		Logger:            g.logger,
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
