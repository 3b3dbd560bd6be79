package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sys/unix"
)

// backendClient sends the requests that make up nearly all of a site's
// traffic — GET, HEAD and OPTIONS without a body — to the backend on
// keep-alive connections it reads and writes itself, in the calling
// goroutine. Everything else (request bodies, upgrades, other methods) goes
// to the http.Transport it wraps.
//
// http.Transport runs two goroutines per backend connection and hands each
// request and response between them and the caller over channels, and
// peeks each idle connection in the background: per proxied request that is
// several goroutine switches and two extra reads. Here a request is one
// write and, usually, one read. Framing is net/http's own on both sides
// (Request.Write, http.ReadResponse), so nothing about what reaches Apache
// or comes back changes; only who holds the connection does.
//
// Every idle connection is checked by a non-blocking peek at its socket
// before reuse (one recvfrom): one the backend closed (Apache's
// KeepAliveTimeout is 5 s by default) or sent anything on while idle (a
// 408 before closing, a body after a HEAD response, bytes past a
// Content-Length) is closed, never read as the next request's answer.
// Idle connections are also swept every sweepEvery. One the backend closes
// just as the request goes fails before any response byte arrives; if the
// request was written whole (or not at all) it is sent once more on a new
// connection, which is safe because only idempotent methods without a body
// take this path.
type backendClient struct {
	fallback      http.RoundTripper
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle       int           // idle connections kept per backend address
	headerTimeout time.Duration // for writing the request and reading the response headers
	idleTimeout   time.Duration // idle connections older than this are closed

	mu    sync.Mutex
	idle  map[string][]*backendConn // by host:port, most recently used last
	sweep *time.Timer               // armed while connections idle
}

// sweepEvery is how often idle connections are checked and expired while
// there are any, so sockets the backend closed do not linger (http.Transport
// closes them at once, from the read it keeps pending on each).
const sweepEvery = time.Second

// idleConnTimeout closes backend connections idle this long, in both pools.
const idleConnTimeout = 90 * time.Second

// maxBackendHeaderBytes bounds a backend response's headers (and 1xx
// responses before it), like http.Transport's MaxResponseHeaderBytes.
const maxBackendHeaderBytes = 1 << 20

type backendConn struct {
	addr    string
	conn    net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	limit   int64 // bytes the next reads may still return; see Read
	read    int64 // bytes of the current response read from conn
	written int64 // bytes of the current request written to conn
	sent    bool  // the current request was written whole
	idleAt  time.Time
	reused  bool
}

// writeCounter counts what reaches the connection.
type writeCounter struct{ c *backendConn }

func (w writeCounter) Write(p []byte) (int, error) {
	n, err := w.c.conn.Write(p)
	w.c.written += int64(n)
	return n, err
}

// Read is the bufio.Reader's source: it counts what arrives (a failure
// with nothing read since the request was written may be retried) and
// enforces the header limit while the response headers are read.
func (c *backendConn) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, fmt.Errorf("backend response headers over %d bytes", maxBackendHeaderBytes)
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.conn.Read(p)
	c.read += int64(n)
	c.limit -= int64(n)
	return n, err
}

func newBackendClient(fallback http.RoundTripper, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	maxIdle int, headerTimeout time.Duration) *backendClient {
	return &backendClient{
		fallback:      fallback,
		dial:          dial,
		maxIdle:       maxIdle,
		headerTimeout: headerTimeout,
		idleTimeout:   idleConnTimeout,
		idle:          map[string][]*backendConn{},
	}
}

// direct reports whether r takes the synchronous path.
func direct(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody || r.ContentLength > 0 || r.Close {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	if r.URL.Scheme != "http" || r.Header.Get("Upgrade") != "" || len(r.Header["Expect"]) > 0 || len(r.TransferEncoding) > 0 {
		return false
	}
	// http.Transport refuses invalid header fields with an error; let it.
	for k, vs := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

// RoundTrip implements http.RoundTripper.
func (b *backendClient) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.maxIdle <= 0 || !direct(r) {
		return b.fallback.RoundTrip(r)
	}
	addr := r.URL.Host
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		addr = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	for retried := false; ; retried = true {
		if r.Context().Err() != nil { // the client left: the backend is not asked
			return nil, context.Cause(r.Context())
		}
		var c *backendConn
		if !retried {
			c = b.get(addr)
		}
		if c == nil {
			conn, err := b.dial(r.Context(), "tcp", addr)
			if err != nil {
				return nil, err
			}
			c = &backendConn{addr: addr, conn: conn}
			c.br = bufio.NewReader(c)
			c.bw = bufio.NewWriter(writeCounter{c})
		}
		res, err := b.roundTrip(c, r)
		if err == nil {
			return res, nil
		}
		c.conn.Close()
		var ne net.Error
		whole := c.written == 0 || c.sent
		if c.reused && whole && c.read == 0 && r.Context().Err() == nil && !(errors.As(err, &ne) && ne.Timeout()) {
			continue // the backend closed it while idle: once more, on a new connection
		}
		return nil, err
	}
}

func (b *backendClient) roundTrip(c *backendConn, r *http.Request) (*http.Response, error) {
	if b.headerTimeout > 0 {
		_ = c.conn.SetDeadline(time.Now().Add(b.headerTimeout))
	}
	c.read, c.limit, c.written, c.sent = 0, maxBackendHeaderBytes, 0, false
	if err := r.Write(c.bw); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	c.sent = true
	// The client leaving (or proxy.read_timeout, through the context)
	// interrupts whatever read is pending on the backend.
	stop := context.AfterFunc(r.Context(), func() { _ = c.conn.SetReadDeadline(time.Unix(1, 0)) })
	// 1xx responses go to the client (ReverseProxy's trace) as they come,
	// each then with a fresh header limit, like http.Transport: however
	// many there are, response_header_timeout bounds them.
	trace := httptrace.ContextClientTrace(r.Context())
	for {
		res, err := http.ReadResponse(c.br, r)
		if err != nil {
			stop()
			if cause := context.Cause(r.Context()); cause != nil {
				return nil, cause
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return nil, errResponseHeaderTimeout
			}
			return nil, err
		}
		if res.StatusCode >= 100 && res.StatusCode < 200 && res.StatusCode != http.StatusSwitchingProtocols {
			if trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(res.StatusCode, textproto.MIMEHeader(res.Header)); err != nil {
					stop()
					return nil, err
				}
				c.limit = maxBackendHeaderBytes
			}
			continue
		}
		if res.StatusCode == http.StatusSwitchingProtocols {
			stop()
			return nil, errors.New("backend switched protocols on a request that asked for no upgrade")
		}
		c.limit = 1<<63 - 1
		_ = c.conn.SetDeadline(time.Time{})
		if err := context.Cause(r.Context()); err != nil {
			// Ended before the deadline was cleared: the read deadline the
			// context set may be gone, so this connection is not used on.
			stop()
			res.Body.Close()
			return nil, err
		}
		res.Body = &backendBody{rc: res.Body, b: b, c: c, stop: stop, keep: !res.Close, ctx: r.Context()}
		return res, nil
	}
}

// errResponseHeaderTimeout is a net.Error with Timeout() true: backendError
// answers it with 504, as it does http.Transport's own.
var errResponseHeaderTimeout error = timeoutError("backend did not send response headers within proxy.response_header_timeout")

type timeoutError string

func (e timeoutError) Error() string { return string(e) }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// backendBody gives the connection back to the pool once the response
// body was read to its end, or closes it.
type backendBody struct {
	rc   io.ReadCloser
	b    *backendClient
	c    *backendConn
	stop func() bool
	keep bool
	done bool
	ctx  context.Context // the request's: its end is why a read failed
}

func (bb *backendBody) Read(p []byte) (int, error) {
	if bb.done {
		return 0, io.EOF
	}
	n, err := bb.rc.Read(p)
	if err == io.EOF {
		bb.finish(true)
	} else if err != nil {
		if cause := context.Cause(bb.ctx); cause != nil {
			err = cause // the client left, or proxy.read_timeout: not an i/o timeout
		}
	}
	return n, err
}

func (bb *backendBody) Close() error {
	bb.finish(false)
	return nil
}

func (bb *backendBody) finish(complete bool) {
	if bb.done {
		return
	}
	bb.done = true
	// stop() is false when the client's context ended meanwhile: the read
	// deadline may be set, so the connection is not reusable.
	if bb.stop() && complete && bb.keep {
		bb.b.put(bb.c)
		return
	}
	bb.c.conn.Close()
}

func (b *backendClient) get(addr string) *backendConn {
	for {
		now := time.Now()
		b.mu.Lock()
		conns := b.idle[addr]
		if len(conns) == 0 {
			b.mu.Unlock()
			return nil
		}
		c := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		b.idle[addr] = conns[:len(conns)-1]
		b.mu.Unlock()
		if now.Sub(c.idleAt) < b.idleTimeout && c.clean() {
			c.reused = true
			return c
		}
		c.conn.Close()
	}
}

func (b *backendClient) put(c *backendConn) {
	if c.br.Buffered() > 0 { // the backend sent more than its response
		c.conn.Close()
		return
	}
	c.idleAt = time.Now()
	b.mu.Lock()
	conns := b.idle[c.addr]
	// The oldest goes first when the pool is full or it idled too long.
	if len(conns) > 0 && (len(conns) >= b.maxIdle || c.idleAt.Sub(conns[0].idleAt) >= b.idleTimeout) {
		conns[0].conn.Close()
		conns = append(conns[:0], conns[1:]...)
	}
	b.idle[c.addr] = append(conns, c)
	if b.sweep == nil {
		b.sweep = time.AfterFunc(sweepEvery, b.expire)
	}
	b.mu.Unlock()
}

// expire closes idle connections that timed out or that the backend closed,
// and runs again while any are left.
func (b *backendClient) expire() {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	left := 0
	for addr, conns := range b.idle {
		kept := conns[:0]
		for _, c := range conns {
			if now.Sub(c.idleAt) < b.idleTimeout && c.clean() {
				kept = append(kept, c)
			} else {
				c.conn.Close()
			}
		}
		clear(conns[len(kept):])
		b.idle[addr] = kept
		left += len(kept)
	}
	if left > 0 {
		b.sweep.Reset(sweepEvery)
	} else {
		b.sweep = nil
	}
}

// clean reports whether an idle connection has nothing to read and was not
// closed by the backend, by a non-blocking peek at its socket.
func (c *backendConn) clean() bool {
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	clean := false
	err = raw.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		clean = err == unix.EAGAIN || err == unix.EWOULDBLOCK // else data, EOF or an error
		return true                                           // never wait
	})
	return err == nil && clean
}

// CloseIdleConnections closes every idle backend connection, the
// wrapped transport's included.
func (b *backendClient) CloseIdleConnections() {
	b.mu.Lock()
	idle := b.idle
	b.idle = map[string][]*backendConn{}
	if b.sweep != nil {
		b.sweep.Stop()
		b.sweep = nil
	}
	b.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.conn.Close()
		}
	}
	if ci, ok := b.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
