package proxy

// tlsfront's own HTTP/2 server (server.http2 = "tlsfront"): connections
// that negotiated "h2" by ALPN are served here, each by one reader and one
// writer goroutine, with one worker goroutine per request that hands the
// request to an H2Handler (the engine-neutral request path) and writes the
// response's frames into the connection's buffer itself. This file is the
// server's API: options, the handler seam, statistics and shutdown.

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// H2Handler serves one request stream. ServeH2 runs on the stream's worker
// goroutine and may block (on the backend, on the request body, on flow
// control). Returning finishes the response as w.End(nil) would, or resets
// the stream (INTERNAL_ERROR) when no response head was written.
type H2Handler interface {
	ServeH2(w H2ResponseWriter, r *H2Request)
}

// H2HandlerFunc adapts a function to H2Handler.
type H2HandlerFunc func(w H2ResponseWriter, r *H2Request)

// ServeH2 calls f(w, r).
func (f H2HandlerFunc) ServeH2(w H2ResponseWriter, r *H2Request) { f(w, r) }

// H2Field is one header or trailer field. Request fields carry lowercase
// names, as HTTP/2 requires; response fields may use any case (they are
// sent lowercased).
type H2Field struct{ Name, Value string }

// H2Request is a parsed, validated HTTP/2 request (RFC 9113 §8). What the
// server found malformed never reaches a handler: such a stream is reset
// with PROTOCOL_ERROR. What is well-formed HTTP/2 but that tlsfront refuses
// (an authority or target it will not forward, CONNECT, an oversized header
// list) arrives with Refuse set: the handler answers with that status (its
// error page, HSTS, access log) and forwards nothing.
type H2Request struct {
	Method string
	// Authority is the :authority pseudo-header or, without one, the Host
	// field, as the client sent it; Host and Port are its parts as
	// wire.ParseAuthority split them (Port "" when none was given). All
	// three are "" when Refuse is set because the authority was invalid or
	// missing.
	Authority, Host, Port string
	// Path is :path, origin-form and valid for a request line
	// (wire.ValidOriginTarget); "" when Refuse is set because it was not.
	Path string
	// Fields are the regular header fields in the order received, names
	// lowercase. Pseudo-headers, host, te and the connection-specific
	// fields (refused anyway) are not among them; cookie crumbs are joined
	// into one cookie field with "; " (RFC 9113 §8.2.3).
	Fields []H2Field
	// TETrailers reports that the client sent "te: trailers" (it takes
	// trailers; the only te HTTP/2 allows): for a proxy to pass on.
	TETrailers bool
	// ContentLength is the declared content-length, -1 when a body follows
	// without one, 0 when the HEADERS frame ended the stream. The server
	// checks DATA against it: a body of another length resets the stream.
	ContentLength int64
	// Body is the request body; nil when the HEADERS frame ended the stream.
	Body *H2Body
	// Conn describes the client connection; shared by its requests.
	Conn *H2ConnInfo
	// StreamID is the HTTP/2 stream identifier.
	StreamID uint32
	// Refuse, when not zero, is the status the handler must answer with
	// (400, 405, 431); Reason says why, for the log and the error page.
	Refuse int
	Reason string

	st *h2stream
}

// Context returns the request's context: done once the client reset the
// stream, the connection closed, or the handler returned. It is the stream
// itself (no allocation).
func (r *H2Request) Context() context.Context { return r.st }

// H2ConnInfo describes the client connection a request came in on.
type H2ConnInfo struct {
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	TLS        *tls.ConnectionState // nil when the connection is not a *tls.Conn (tests)
}

// H2ResponseWriter is where a handler writes its response. Its methods are
// safe to call from the handler's goroutine and one other goroutine (a
// body copier), not from many at once.
type H2ResponseWriter interface {
	// WriteHead sends the response head: a 1xx interim head any number of
	// times, then the final one once. Connection-specific fields are
	// dropped, names are lowercased. end ends the stream with the head (no
	// body); a response to HEAD and a 204 or 304 always end there. The
	// head is sent with the next Flush, End or enough body data.
	WriteHead(status int, fields []H2Field, end bool) error
	// Write sends body bytes as DATA frames, waiting for the client's flow
	// control window up to the send timeout (the stream is then reset with
	// INTERNAL_ERROR). Data is buffered in the connection and sent with
	// the next Flush or End, or once a TLS record's worth is ready.
	Write(p []byte) (int, error)
	// Flush asks the connection's writer to send what was written.
	Flush() error
	// End completes the response: END_STREAM on the last DATA frame, or a
	// HEADERS frame of trailers when trailers is not empty.
	End(trailers []H2Field) error
	// Abort resets the stream with INTERNAL_ERROR: the client learns the
	// response is incomplete (a backend that failed mid-body).
	Abort()
}

// H2Options configure an H2Server. Zero values take the documented
// defaults.
type H2Options struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS and the most
	// handlers one connection runs at once (server.max_concurrent_streams);
	// zero means 128.
	MaxConcurrentStreams int
	// MaxHeaderBytes bounds a request's decoded header list (names, values
	// and 32 bytes per field, RFC 9113 §6.5.2); a larger list is refused
	// with 431. Zero means 64 KiB.
	MaxHeaderBytes int
	// MaxGlitches closes a connection with GOAWAY ENHANCE_YOUR_CALM once
	// it has caused this many glitches (server.http2_glitches; see
	// h2glitch.go for what counts); at three quarters a graceful GOAWAY
	// asks the client to reconnect. Zero means no limit.
	MaxGlitches int
	// ReadHeaderTimeout bounds the time from the start of ServeConn to the
	// first request's headers; zero means 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a connection without open streams after this
	// long; zero means 120s.
	IdleTimeout time.Duration
	// SendTimeout (proxy.send_timeout) bounds each wait for the client: a
	// client that takes less than 64 KiB from the socket in this time loses
	// the connection, a stream waiting this long for flow-control window is
	// reset (INTERNAL_ERROR). Zero means no limit.
	SendTimeout time.Duration
	// BodyTimeout is the longest a request body read waits for DATA;
	// the read then fails with ErrH2BodyTimeout. Zero means no limit.
	BodyTimeout time.Duration
	// StreamWindow and ConnWindow are the request body bytes a client may
	// send ahead of the handler's reads, per stream and per connection;
	// zero means 256 KiB and 1 MiB.
	StreamWindow, ConnWindow int32
	// Counters are where the server counts; nil gives it its own. The
	// daemon passes one H2Counters to every generation's server, so that
	// its metrics survive reloads.
	Counters *H2Counters
	Logger   zerolog.Logger
}

// H2Counters are an H2Server's counters since they were made. Safe for
// concurrent use.
type H2Counters struct {
	conns, streams, glitches, glitchCloses atomic.Uint64
}

// Connections returns how many connections were served.
func (c *H2Counters) Connections() uint64 { return c.conns.Load() }

// Streams returns how many requests were handed to a handler.
func (c *H2Counters) Streams() uint64 { return c.streams.Load() }

// Glitches returns how many glitches all connections caused.
func (c *H2Counters) Glitches() uint64 { return c.glitches.Load() }

// GlitchCloses returns how many connections were closed with GOAWAY
// ENHANCE_YOUR_CALM for their glitches.
func (c *H2Counters) GlitchCloses() uint64 { return c.glitchCloses.Load() }

// ErrH2BodyTimeout is what a request body read returns once
// H2Options.BodyTimeout passed without DATA from the client.
var ErrH2BodyTimeout = errors.New("client sent no request body data within proxy.client_body_timeout")

// errH2StreamClosed is what writes and body reads of a stream that is gone
// (reset by the client, connection closed) return.
var errH2StreamClosed = errors.New("http2: stream closed")

// errH2SendTimeout is what a write returns once it waited
// H2Options.SendTimeout for flow-control window.
var errH2SendTimeout = errors.New("http2: client took no response data within proxy.send_timeout")

// H2Server serves HTTP/2 connections with an H2Handler.
type H2Server struct {
	h    H2Handler
	opts H2Options

	mu       sync.Mutex
	conns    map[*h2conn]struct{}
	draining bool

	count   *H2Counters
	open    atomic.Int64
	workers *h2workers
}

// NewH2Server returns a server handing requests to h.
func NewH2Server(h H2Handler, o H2Options) *H2Server {
	if o.MaxConcurrentStreams <= 0 {
		o.MaxConcurrentStreams = 128
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.StreamWindow <= 0 {
		o.StreamWindow = 256 << 10
	}
	// Until it has our SETTINGS, a client may send 65,535 bytes per stream.
	o.StreamWindow = max(o.StreamWindow, initialWindow)
	if o.ConnWindow <= 0 {
		o.ConnWindow = 1 << 20
	}
	o.ConnWindow = max(o.ConnWindow, o.StreamWindow, initialWindow)
	s := &H2Server{h: h, opts: o, conns: map[*h2conn]struct{}{}, count: o.Counters, workers: newH2Workers()}
	if s.count == nil {
		s.count = new(H2Counters)
	}
	return s
}

// ServeConn serves one connection whose TLS handshake is done and whose
// ALPN protocol is "h2", until it closes; it closes c. It may be called
// from many goroutines at once.
func (s *H2Server) ServeConn(c net.Conn) { s.ServeConnSince(c, time.Now()) }

// ServeConnSince is ServeConn for a connection accepted at start: its
// first request's headers are due within ReadHeaderTimeout of start, the
// TLS handshake's time included (as the HTTP/1.1 engine counts it).
func (s *H2Server) ServeConnSince(c net.Conn, start time.Time) {
	cc := newH2Conn(s, c)
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		cc.refuseDraining()
		return
	}
	s.conns[cc] = struct{}{}
	s.mu.Unlock()
	s.count.conns.Add(1)
	s.open.Add(1)
	defer func() {
		s.open.Add(-1)
		s.mu.Lock()
		delete(s.conns, cc)
		s.mu.Unlock()
	}()
	cc.serve(start)
}

// Shutdown drains every connection: each gets GOAWAY (NO_ERROR) naming the
// last stream it will serve, finishes those streams and closes; new
// connections are refused the same way. It returns once all are closed,
// or closes what remains and returns ctx's error when ctx is done first.
// The daemon calls it on reload (for the old generation) and on SIGTERM.
func (s *H2Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for c := range s.conns {
		c.drain()
	}
	s.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			s.workers.stop()
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Draining reports whether Shutdown (or Close) began: connections served
// from now on get GOAWAY with last stream 0 before any stream.
func (s *H2Server) Draining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Close closes every connection at once. Handlers still running see their
// requests' contexts done.
func (s *H2Server) Close() {
	s.mu.Lock()
	s.draining = true
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.workers.stop()
}

// H2Stats are the server's counters and settings.
type H2Stats struct {
	Connections   uint64 // connections served
	Open          int64  // connections open now
	Streams       uint64 // requests handed to the handler
	Glitches      uint64 // glitches counted on all connections
	GlitchCloses  uint64 // connections closed with ENHANCE_YOUR_CALM for glitches
	MaxGlitches   int    // the threshold; 0 means none
	MaxConcurrent int    // SETTINGS_MAX_CONCURRENT_STREAMS
}

// Stats returns the server's counters.
func (s *H2Server) Stats() H2Stats {
	return H2Stats{
		Connections:   s.count.Connections(),
		Open:          s.open.Load(),
		Streams:       s.count.Streams(),
		Glitches:      s.count.Glitches(),
		GlitchCloses:  s.count.GlitchCloses(),
		MaxGlitches:   s.opts.MaxGlitches,
		MaxConcurrent: s.opts.MaxConcurrentStreams,
	}
}
