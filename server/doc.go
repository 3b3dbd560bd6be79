// Package server is the tlsfront daemon: it builds a Generation from a
// configuration, binds the listeners (or takes them from systemd socket
// activation), accepts connections, reloads on SIGHUP and on certificate
// files changed on disk, and drains on SIGTERM. cmd/tlsfront parses flags
// and calls Run (serve) or Check (tlsfront -t); nothing else lives there.
//
// Where it sits: at both ends of a connection's life, around the request
// path of package proxy.
//
//	accept ─▶ connection limit ─▶ take the Generation ─▶ PROXY header ─▶ TLS handshake ─▶ ALPN ─▶ ConnServer
//	(listener)  (process-wide)      (one atomic load)     (if trusted)   (short goroutine)        (engine per protocol)
//
// A Generation is everything a connection and its requests need, built
// whole from one configuration: the TLS state (policy, certificates,
// staples, ticket keys), the request handler (proxy, with its shield) and
// its observer (access log, metrics), the trusted proxies and PROXY switch,
// the limits, the files to watch, and one ConnServer per ALPN protocol. A
// reload builds a new one (every problem reported, nothing half-built left
// behind) and publishes it with one atomic store. The accept loop takes the
// current Generation once per connection: the handshake (its per-hello
// config comes from the connection's Generation, not from a global) and
// every request on that connection use it, whatever reloads happen
// meanwhile. A Generation a reload replaced drains, as nginx's old workers
// do: each request being served finishes, then its connection closes
// (HTTP/1.1: Connection: close, idle ones at once; HTTP/2: GOAWAY), so the
// clients' next requests meet the new configuration on new connections;
// a connection still in its handshake is served one request (HTTP/1.1) or
// turned away before any stream (HTTP/2 GOAWAY, which clients retry).
// Nothing is cut. When its last connection has closed, its ConnServers, stapler and
// ACME loops and idle backend connections are closed.
//
// # The seam for protocol engines
//
// After the handshake a connection is handed, by its negotiated ALPN
// protocol, to the Generation's ConnServer for that protocol
// (Generation.servers, filled by Generation.newConnServers in engines.go:
// "h2" and "http/1.1", the latter also for clients that negotiate
// nothing). "http/1.1" is tlsfront's own engine (proxy.H1); "h2" is what
// server.http2 names: tlsfront's own server (proxy.H2Server), net/http's
// http.Server fed through a listener adapter (HTTPServer), or none, and
// then "h2" is not offered in ALPN. An engine plugs in by implementing ConnServer and being returned for its
// protocol by newConnServers, where it gets the Generation's handler
// (proxy), its observer (metrics, access log) and its limits. It serves
// each *tls.Conn it is given (ServeConn) and closes it when done; the
// accept path has counted it for the metrics and holds the Generation for
// it until it is closed. It learns it must drain from Shutdown(ctx): at the
// reload that replaced its Generation (at once, in the background; ctx
// never ends: nothing may be cut) and at SIGTERM (ctx ends at
// server.shutdown_timeout, then Close follows; a Generation still draining
// from a reload gets this second call too). Draining means: finish the
// requests in flight, answer them so that the client does not reuse the
// connection (HTTP/1.1 Connection: close; HTTP/2 GOAWAY, then the open
// streams), close idle connections, return when all are closed. A
// connection accepted just before the reload may still be handed over
// (ServeConn) after Shutdown began: HTTP/1.1 serves its first request and
// closes it, HTTP/2 sends GOAWAY with last stream 0 before any stream (as
// proxy.H2Server does while draining), so the client retries on a new
// connection. Close is also called once a replaced Generation's last
// connection has closed, to free what is left.
package server
