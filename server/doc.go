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
// staples, ticket keys), the request handler (proxy) with its access log and
// metrics, the trusted proxies and PROXY switch, the limits, the files to
// watch, and one ConnServer per ALPN protocol. A reload builds a new one
// (every problem reported, nothing half-built left behind) and publishes it
// with one atomic store. The accept loop takes the current Generation once
// per connection: the handshake (its per-hello config comes from the
// connection's Generation, not from a global) and every request on that
// connection use it, whatever reloads happen meanwhile. A Generation
// replaced by a reload lives until its last connection closes; then its
// ConnServers, stapler and ACME loops and idle backend connections are
// closed.
//
// # The seam for protocol engines
//
// After the handshake a connection is handed, by its negotiated ALPN
// protocol, to the Generation's ConnServer for that protocol
// (Generation.servers, filled by Generation.newConnServers in engines.go:
// "h2" and "http/1.1", the latter also for clients that negotiate
// nothing). Until tlsfront's own HTTP/1.1 and HTTP/2 engines land, both are
// one HTTPServer: net/http's http.Server fed through a listener adapter.
// An engine plugs in by implementing ConnServer and being returned for its
// protocol by newConnServers, where it gets the Generation's handler
// (proxy), its observer (metrics, access log) and its limits. It learns it must drain from Shutdown (SIGTERM: finish in-flight
// requests, close idle connections, refuse new requests, until the context
// given ends, then Close). A reload asks nothing of it: its connections go
// on with their Generation; Close is called once the last of them has
// closed.
package server
