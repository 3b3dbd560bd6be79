package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/wire"
)

// H1 is tlsfront's HTTP/1.1 engine: it serves client connections whose TLS
// handshake is done (ALPN "http/1.1" or none), one goroutine per
// connection, reading requests with package wire and handing each to a
// Server (the request path). The connection's goroutine also does the
// backend I/O of its requests (a request body is copied by a second
// goroutine while it lasts).
//
// An idle connection holds no buffer: between requests the goroutine waits
// on a one-byte read and takes its pooled buffers when the next request
// arrives. Its methods are safe for concurrent use.
type H1 struct {
	opts H1Options

	mu       sync.Mutex
	conns    map[*h1conn]struct{}
	closed   bool // Close was called: connections handed over are closed at once
	draining atomic.Bool
	drained  chan struct{} // closed when draining and the last connection ended
}

// H1Options configure an H1. Zero values take the documented defaults.
type H1Options struct {
	// Server gets every request (the request path).
	Server Server
	// ReadHeaderTimeout bounds the TLS handshake plus the first request's
	// head, and each later request's head from its first byte; zero means
	// 10s. Past it the connection is closed.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection; zero means 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request head (request line and fields):
	// larger gets 431. Zero means 64 KiB.
	MaxHeaderBytes int
	// ConnState, when set, is told of each connection as net/http's hook
	// is: StateNew and StateActive when serving starts (the handshake is
	// done), StateClosed at the end.
	ConnState func(net.Conn, http.ConnState)
	Logger    zerolog.Logger
}

// NewH1 returns an engine serving o.Server.
func NewH1(o H1Options) *H1 {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	return &H1{opts: o, conns: map[*h1conn]struct{}{}}
}

// A connection closed with request bytes unread (a refused body) keeps
// reading and discarding what the client sends for up to h1LingerTime, until
// it pauses for h1LingerPause or closes, so that the client reads the
// response instead of a reset (nginx's lingering_close, shorter).
const (
	h1LingerTime  = 2 * time.Second
	h1LingerPause = 500 * time.Millisecond
)

// ServeConn serves c, whose handshake is done, until the client or the
// engine ends it, then closes it. info.TLS is filled from c if nil;
// info.Since is when the connection was accepted (the first request's
// ReadHeaderTimeout runs from there).
//
// ServeConn blocks: call it as the entry of the goroutine that serves the
// connection (go e.ServeConn(c, info)), so that little lies below the
// connection's idle wait on its stack.
func (e *H1) ServeConn(c *tls.Conn, info ConnInfo) {
	if info.TLS == nil {
		cs := c.ConnectionState()
		info.TLS = &cs
	}
	e.newConn(c, &info).run()
}

// Start is ServeConn on a goroutine of its own (a fresh one: the caller's
// stack grew for the handshake); it returns at once.
func (e *H1) Start(c *tls.Conn, info ConnInfo) {
	if info.TLS == nil {
		cs := c.ConnectionState()
		info.TLS = &cs
	}
	go e.newConn(c, &info).run()
}

// h1Transport is what the engine needs of a connection: a *tls.Conn, or in
// tests a plain TCP connection.
type h1Transport interface {
	net.Conn
	CloseWrite() error
}

func (e *H1) serveConn(c h1Transport, info ConnInfo) { e.newConn(c, &info).run() }

func (e *H1) newConn(c h1Transport, info *ConnInfo) *h1conn {
	if info.Since.IsZero() {
		info.Since = time.Now()
	}
	hc := &h1conn{e: e, tc: c, info: *info}
	if hc.info.Fwd == nil {
		hc.info.Fwd = new(ForwardCache)
	}
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		hc.raw = idleSocket(nc.NetConn())
	} else {
		hc.raw = idleSocket(c)
	}
	if hc.raw != nil {
		hc.readableFn = hc.readable
	}
	return hc
}

// run serves the connection until it ends.
func (c *h1conn) run() {
	e := c.e
	if !e.track(c) {
		c.tc.Close()
		return
	}
	if e.opts.ConnState != nil {
		e.opts.ConnState(c.tc, http.StateNew)
		e.opts.ConnState(c.tc, http.StateActive)
		defer e.opts.ConnState(c.tc, http.StateClosed)
	}
	defer e.untrack(c)
	c.serve()
}

func (e *H1) track(c *h1conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.conns[c] = struct{}{}
	return true
}

func (e *H1) untrack(c *h1conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.conns, c)
	if e.draining.Load() && len(e.conns) == 0 && e.drained != nil {
		close(e.drained)
		e.drained = nil
	}
}

// Shutdown drains e: idle keep-alive connections close now, a request
// being served is answered with Connection: close, then its connection
// closes; a connection handed over after Shutdown began has its first
// request served that way, so the client retries elsewhere rather than
// lose it. It returns when the last connection ended, or closes the
// remaining ones when ctx ends and returns its error.
func (e *H1) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.draining.Store(true)
	done := make(chan struct{})
	if len(e.conns) == 0 {
		close(done)
	} else {
		e.drained = done
	}
	for c := range e.conns {
		c.wakeIdle()
	}
	e.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		e.mu.Lock()
		for c := range e.conns {
			c.tc.Close()
		}
		e.mu.Unlock()
		return ctx.Err()
	}
}

// closeWait bounds how long Close waits for the connections' goroutines: a
// request waiting on its backend ends only with the backend's answer or
// its timeout.
const closeWait = 5 * time.Second

// Close closes every connection at once; connections handed over later
// are closed at once too. It waits up to closeWait for their goroutines
// to end.
func (e *H1) Close() error {
	e.mu.Lock()
	e.closed = true
	e.draining.Store(true)
	for c := range e.conns {
		c.tc.Close()
	}
	done := make(chan struct{})
	if len(e.conns) == 0 {
		close(done)
	} else if e.drained == nil {
		e.drained = done
	} else {
		done = e.drained
	}
	e.mu.Unlock()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	return nil
}

// Draining reports whether Shutdown (or Close) began.
func (e *H1) Draining() bool { return e.draining.Load() }

// Open returns how many connections e serves.
func (e *H1) Open() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

// h1conn is one client connection.
type h1conn struct {
	e    *H1
	tc   h1Transport
	info ConnInfo
	one  [1]byte
	idle atomic.Bool     // waiting for a request: Shutdown may wake it
	raw  syscall.RawConn // the socket below, for the idle wait (h1idle.go); nil: none

	readableFn func(uintptr) bool // c.readable, made once
	peek       [1]byte

	rbuf *[]byte // read buffer while a request is in flight; nil while idle
	r, w int     // unread bytes are (*rbuf)[r:w]
	rq   *h1request

	// The response sink's state (h1sink.go), reset per request.
	wmu        sync.Mutex // orders writes: the body copier's 100 Continue, the response
	out        *[]byte    // write buffer; nil until the response starts
	olen       int
	final      bool // a final head is in the write buffer
	headSent   bool // a final head went to the client (under wmu)
	sendTO     time.Duration
	bodyTO     time.Duration
	armedW     time.Time
	chunked    bool
	bodiless   bool
	closeAfter bool
	aborted    bool
	upgraded   bool
	werr       error
	watch      *h1watch
}

// h1request is the per-request state, pooled with the buffers.
type h1request struct {
	head   string
	wreq   wire.Request
	fields []wire.Field
	req    Request
	body   h1body
}

var h1requests = sync.Pool{New: func() any { return new(h1request) }}

func (c *h1conn) serve() {
	defer c.close()
	first := true
	for {
		start := time.Now()
		if c.rbuf == nil || c.r == c.w {
			// Idle (nothing pipelined): wait here, high in the stack, with
			// no buffer held.
			if start = c.awaitRequest(first); start.IsZero() {
				return
			}
		}
		if !c.readHead(first, start) {
			return
		}
		first = false
		if !c.serveRequest() || c.e.draining.Load() {
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request and returns
// when it came; zero when the connection is to end (closed, timed out,
// woken by Shutdown).
func (c *h1conn) awaitRequest(first bool) time.Time {
	o := &c.e.opts
	c.releaseRequest()
	deadline := time.Now().Add(o.IdleTimeout)
	if first {
		deadline = c.info.Since.Add(o.ReadHeaderTimeout)
	}
	if !first { // a connection handed over while draining still has its first request served
		c.idle.Store(true)
		if c.e.draining.Load() {
			c.idle.Store(false)
			return time.Time{}
		}
	}
	got := c.waitIdle(deadline)
	c.idle.Store(false)
	if !got {
		return time.Time{}
	}
	c.takeRequest()
	(*c.rbuf)[0] = c.one[0]
	c.r, c.w = 0, 1
	return time.Now()
}

// close ends the connection: at once, or after lingering when request
// bytes the server did not want may still be coming.
func (c *h1conn) close() {
	if c.rq != nil && c.rq.body.unread() && !c.upgraded && !c.aborted {
		c.linger()
	}
	c.releaseRequest()
	c.releaseOut()
	c.tc.Close()
}

// linger sends close_notify, then reads and discards what the client
// still sends for a while, so that its TCP stack does not reset the
// connection (and lose the response) when the server closes with data
// unread.
func (c *h1conn) linger() {
	_ = c.tc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.tc.CloseWrite()
	end := time.Now().Add(h1LingerTime)
	buf := c.one[:]
	if c.rbuf != nil {
		buf = *c.rbuf
	}
	for now := time.Now(); now.Before(end); now = time.Now() {
		d := now.Add(h1LingerPause)
		if d.After(end) {
			d = end
		}
		_ = c.tc.SetReadDeadline(d)
		if _, err := c.tc.Read(buf); err != nil {
			return
		}
	}
}

// wakeIdle ends an idle wait (Shutdown).
func (c *h1conn) wakeIdle() {
	if c.idle.Load() {
		_ = c.tc.SetReadDeadline(time.Unix(1, 0))
	}
}

func (c *h1conn) takeRequest() {
	if c.rbuf == nil {
		c.rbuf = getBuffer()
		c.r, c.w = 0, 0
	}
	if c.rq == nil {
		c.rq = h1requests.Get().(*h1request)
	}
}

func (c *h1conn) releaseRequest() {
	if c.rq != nil {
		rq := c.rq
		rq.wreq.Fields = rq.wreq.Fields[:0]
		*rq = h1request{wreq: wire.Request{Fields: rq.wreq.Fields}, fields: rq.fields[:0]}
		h1requests.Put(rq)
		c.rq = nil
	}
	if c.rbuf != nil && c.r == c.w {
		putBuffer(c.rbuf)
		c.rbuf, c.r, c.w = nil, 0, 0
	}
}

// readHead reads the head of the request that began at start into c.rq.
// It answers a malformed or oversized head itself and reports false when
// the connection is to end.
func (c *h1conn) readHead(first bool, start time.Time) bool {
	o := &c.e.opts
	c.takeRequest()
	headDeadline := start.Add(o.ReadHeaderTimeout)
	if first {
		headDeadline = c.info.Since.Add(o.ReadHeaderTimeout)
	}
	_ = c.tc.SetReadDeadline(headDeadline)
	c.rq.req.Start = start
	from := 0
	for {
		buf := (*c.rbuf)[c.r:c.w]
		end, next, err := wire.HeadEnd(buf, from)
		if err != nil {
			return c.refuse(err.Status, err.Reason)
		}
		if end > 0 {
			if end > o.MaxHeaderBytes {
				return c.refuse(http.StatusRequestHeaderFieldsTooLarge, "request head over server.max_header_bytes")
			}
			c.rq.head = string(buf[:end])
			c.r += end
			return c.parse()
		}
		from = next
		if len(buf) > o.MaxHeaderBytes {
			return c.refuse(http.StatusRequestHeaderFieldsTooLarge, "request head over server.max_header_bytes")
		}
		c.makeRoom(o.MaxHeaderBytes + 4)
		n, err2 := c.tc.Read((*c.rbuf)[c.w:])
		c.w += n
		if n == 0 && err2 != nil {
			return false // the client left or was too slow: nothing to answer
		}
	}
}

// makeRoom makes space at the end of the read buffer: unread bytes move to
// the front; a buffer holding only an unfinished head grows, up to limit.
func (c *h1conn) makeRoom(limit int) {
	b := *c.rbuf
	if c.w < len(b) {
		return
	}
	if c.r > 0 {
		copy(b, b[c.r:c.w])
		c.w -= c.r
		c.r = 0
		return
	}
	size := min(2*len(b), max(limit, len(b)+1))
	nb := make([]byte, size)
	copy(nb, b[:c.w])
	putBuffer(c.rbuf)
	c.rbuf = &nb
}

// parse parses the head read and prepares the Request.
func (c *h1conn) parse() bool {
	rq := c.rq
	if _, err := rq.wreq.Parse(rq.head); err != nil {
		var werr *wire.Error
		if errors.As(err, &werr) {
			return c.refuse(werr.Status, werr.Reason)
		}
		return c.refuse(http.StatusBadRequest, err.Error())
	}
	w := &rq.wreq
	rq.fields = rq.fields[:0]
	for _, f := range w.Fields {
		switch len(f.Name) {
		case 4:
			if wire.EqualFold(f.Name, "host") {
				continue
			}
		case 14:
			if wire.EqualFold(f.Name, "content-length") {
				continue
			}
		case 17:
			if wire.EqualFold(f.Name, "transfer-encoding") {
				continue
			}
		}
		rq.fields = append(rq.fields, f)
	}
	proto := "HTTP/1.1"
	if w.Minor == 0 {
		proto = "HTTP/1.0"
	}
	rq.req = Request{
		Method: w.Method, Authority: w.Authority, Target: w.Path, Proto: proto, Fields: rq.fields,
		ContentLength: w.ContentLength, Expect: w.Expect, Conn: &c.info, Start: rq.req.Start,
	}
	if w.Upgrade != "" && wire.EqualFold(w.Upgrade, "websocket") && w.ContentLength == 0 {
		rq.req.Upgrade = w.Upgrade
	}
	rq.body = h1body{c: c, left: w.ContentLength, chunked: w.Chunked, expect: w.Expect == wire.ExpectContinue}
	if w.ContentLength != 0 {
		rq.req.Body = &rq.body
	} else {
		rq.body.done = true
	}
	return true
}

// refuse answers a request the engine could not parse and ends the
// connection.
func (c *h1conn) refuse(status int, reason string) bool {
	c.resetSink()
	c.closeAfter = true
	c.bodiless = false
	proto := "HTTP/1.1"
	c.e.opts.Server.ServeError(c, &c.info, proto, c.rq.req.Start, status, reason)
	c.endResponse()
	if c.rq != nil {
		c.rq.body = h1body{c: c, left: 1} // unknown: what follows is unread
	}
	return false
}

// serveRequest hands the parsed request to the server and reports whether
// the connection can carry another one.
func (c *h1conn) serveRequest() bool {
	rq := c.rq
	c.resetSink()
	c.bodiless = rq.wreq.Method == "HEAD"
	c.closeAfter = rq.wreq.Close // answered with Connection: close (RFC 9112 §9.6)
	c.e.opts.Server.Serve(c, &rq.req)
	c.endResponse()
	switch {
	case c.aborted || c.upgraded || c.werr != nil:
		return false
	case c.closeAfter || rq.wreq.Close || rq.body.unread():
		return false
	}
	return true
}

var _ io.ReadWriteCloser = (*h1tunnel)(nil)
