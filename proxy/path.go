package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net/netip"
	"time"

	"tlsfront/wire"
)

// The request path is what every engine (tlsfront's HTTP/1.1 engine,
// net/http's HTTP/2 server through ServeHTTP, tlsfront's own HTTP/2 server)
// hands its requests to, one call per request:
//
//	h.Serve(sink, req)
//
// The engine parses and validates the request (wire.ParseAuthority for its
// authority, wire.ValidOriginTarget for its target, field syntax), fills a
// Request, and implements ResponseSink over its connection or stream.
// Serve then does everything else, in the calling goroutine: routing on
// the authority (421 when it names another site than the TLS server
// name), the refusals that need no backend (CONNECT, unmet expectations,
// declared bodies over max_body_bytes), the request to the backend rebuilt
// from parsed values (hop-by-hop fields removed, forwarding headers set by
// the headers package), the backend round trip on a pooled connection
// within max_backend_conns, the response with HSTS, the site's headers and
// the rewrites, error pages, and the one access-log entry per request.

// ConnInfo describes the client connection a request came on. An engine
// fills it once per connection.
type ConnInfo struct {
	// Remote is the client's address: the TCP peer's, or the one a trusted
	// load balancer's PROXY protocol header gave.
	Remote netip.AddrPort
	// TLS is the connection's TLS state; nil on a plain connection.
	TLS *tls.ConnectionState
	// Trusted reports whether Remote is a trusted proxy, whose forwarding
	// headers are kept and extended (Options.Trusted, set by the engine
	// from the address the path cannot know was rewritten).
	Trusted bool
	// Since is when the connection was accepted: the first request's
	// read_header_timeout runs from there, the TLS handshake included.
	Since time.Time

	// Fwd, when set, keeps the forwarding fields of the connection's last
	// authority for its next requests (an untrusted peer's depend on
	// nothing else); safe for concurrent streams. Nil computes them per
	// request.
	Fwd *ForwardCache
}

// Request is one client request as an engine hands it to the request path.
// Its strings must stay valid until Serve returns (the HTTP/1.1 engine's are
// substrings of the request head).
type Request struct {
	Method string
	// Authority is the host[:port] the request is for, validated by
	// wire.ParseAuthority: HTTP/1.1's Host or absolute-form authority,
	// HTTP/2's :authority (or Host). "" only for HTTP/1.0 without Host.
	Authority string
	// Target is the origin-form request-target, validated by
	// wire.ValidOriginTarget. For CONNECT it is "" (CONNECT is refused).
	Target string
	Proto  string // "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0"
	// Fields are the client's header fields, names as received (any case),
	// without pseudo-headers, Host, Content-Length and Transfer-Encoding
	// (the framing is ContentLength). Hop-by-hop fields may be present: the
	// path removes them.
	Fields []wire.Field
	// Body is the request body, nil when there is none. Its Read returns
	// the body's bytes and io.EOF at its end; an error wrapping
	// ErrBodyTimeout when the client paused longer than the body timeout;
	// a *wire.Error for malformed framing (the status to answer); any other
	// error when the client went away. A Body whose pending Read can be
	// cut short from another goroutine implements Interrupt() (the path
	// calls it when the backend answered or failed before the body's end).
	Body io.Reader
	// ContentLength is the body's length: 0 without body, -1 when unknown
	// (HTTP/1.1 chunked, HTTP/2 without content-length).
	ContentLength int64
	// Expect is what the request's Expect fields ask. With
	// wire.ExpectContinue the client waits for 100 Continue: the engine's
	// Body sends it on its first Read.
	Expect wire.Expectation
	// Upgrade is "websocket" for an HTTP/1.1 WebSocket handshake (Upgrade:
	// websocket, Connection: upgrade) on an engine whose sink is an
	// Upgrader; "" otherwise. Other protocol switches (h2c) are not
	// forwarded.
	Upgrade string
	Conn    *ConnInfo
	// Start is when the request began (its first byte), for the log.
	Start time.Time
}

// ResponseSink is where the request path writes one response: an HTTP/1.1
// connection or an HTTP/2 stream. Its methods are called from the
// goroutine that called Serve, except Watch's gone callback.
type ResponseSink interface {
	// SetTimeouts gives the engine the path's limits for this request,
	// before any I/O: send bounds each wait for the client to take
	// response bytes (proxy.send_timeout), body each wait for request
	// body bytes (proxy.client_body_timeout). Zero means no limit.
	SetTimeouts(send, body time.Duration)
	// Inform sends an informational response other than 100 and 101
	// (103 Early Hints). An engine that cannot ignores it.
	Inform(status int, fields []wire.Field) error
	// WriteHead starts the final response. fields are complete but for
	// framing and connection management (Content-Length,
	// Transfer-Encoding, Connection, Keep-Alive, Date are the engine's).
	// length is the body's length, -1 when unknown (the engine chunks it
	// or ends it by closing); for a HEAD request or a 204/304 it is the
	// length the body would have (or -1), and nothing is written. The
	// engine may hold the head until the first Flush or Finish.
	WriteHead(status int, reason string, fields []wire.Field, length int64) error
	// Write writes body bytes after WriteHead.
	Write(p []byte) (int, error)
	// Flush sends what is buffered. The path calls it before it waits for
	// the backend, so that a streamed response reaches the client as it
	// comes.
	Flush() error
	// Finish ends a complete response; trailers (nil for none) follow a
	// body of unknown length when the client can take them.
	Finish(trailers []wire.Field) error
	// Abort ends a response that cannot be completed (the backend failed
	// mid-body, the client or a limit cut it): HTTP/1.1 closes the
	// connection, HTTP/2 resets the stream. Never passed off as complete.
	Abort()
	// CloseAfter asks the engine to close the connection after this
	// response (HTTP/1.1: Connection: close): the request body was not
	// read to its end. HTTP/2 ignores it.
	CloseAfter()
	// Watch starts noticing the client leaving while the path waits on
	// the backend; gone is then called once, from another goroutine.
	// Unwatch stops it and reports whether the client left. Between the
	// two the path does no I/O on the sink.
	Watch(gone func())
	Unwatch() bool
}

// Upgrader is a ResponseSink on a connection that can switch protocols
// (HTTP/1.1). Upgrade sends a 101 Switching Protocols head with fields and
// returns the client's connection for the tunnel; whatever the client sent
// after its request is read first.
type Upgrader interface {
	Upgrade(fields []wire.Field) (io.ReadWriteCloser, error)
}

// Server is what an engine hands its requests to: a *Handler, or anything
// that picks one (the current configuration's).
type Server interface {
	Serve(w ResponseSink, r *Request)
	// ServeError answers a request the engine refused before it could build
	// a Request (a malformed head): the error page with the headers of the
	// site the TLS server name routes to, and the access-log entry.
	ServeError(w ResponseSink, c *ConnInfo, proto string, start time.Time, status int, reason string)
}

// ErrBodyTimeout is what a request body read fails with (wrapped) once the
// client sent nothing for proxy.client_body_timeout: the path answers 408.
var ErrBodyTimeout = errors.New("client sent no request body data within proxy.client_body_timeout")

// interrupter is a request body whose pending Read can be ended from
// another goroutine.
type interrupter interface{ Interrupt() }
