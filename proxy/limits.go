package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// ConnLimiter caps the client connections open at once across the
// listeners it wraps (server.max_connections). It is the first thing a
// connection meets, before a PROXY protocol header or a TLS handshake: a
// connection past the limit is accepted and closed at once, so the accept
// loop never spins on it and the client sees a closed connection instead
// of waiting in the backlog. Refusals are counted and logged, at most one
// line per LogInterval. Its methods are safe for concurrent use.
type ConnLimiter struct {
	max     atomic.Int64
	open    atomic.Int64
	refused atomic.Uint64

	// LogInterval is the shortest time between two refusal log lines; each
	// line says how many connections were refused since the last. Zero
	// means 10s. Set it before use.
	LogInterval time.Duration
	// Now is the clock of the log rate limit. Nil means time.Now. Set it
	// before use.
	Now func() time.Time

	mu       sync.Mutex
	logger   zerolog.Logger
	lastLog  time.Time
	unlogged uint64
}

// NewConnLimiter returns a limiter allowing max connections at once; 0
// means unlimited. It logs nothing until SetLogger.
func NewConnLimiter(n int) *ConnLimiter {
	l := &ConnLimiter{logger: zerolog.Nop()}
	l.SetMax(n)
	return l
}

// SetMax changes the limit; 0 (or less) means unlimited. Lowering it below
// the connections open closes none of them: new ones are refused until
// enough have closed.
func (l *ConnLimiter) SetMax(n int) { l.max.Store(int64(max(n, 0))) }

// SetLogger sets where refusals are reported.
func (l *ConnLimiter) SetLogger(logger zerolog.Logger) {
	l.mu.Lock()
	l.logger = logger
	l.mu.Unlock()
}

// Max returns the limit; 0 means unlimited.
func (l *ConnLimiter) Max() int { return int(l.max.Load()) }

// Open returns how many connections accepted through the limiter are not
// closed yet.
func (l *ConnLimiter) Open() int { return int(l.open.Load()) }

// Refused returns how many connections were refused since the start.
func (l *ConnLimiter) Refused() uint64 { return l.refused.Load() }

// Listener wraps ln: its connections count against the limit until closed.
func (l *ConnLimiter) Listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l}
}

func (l *ConnLimiter) acquire() bool {
	for {
		n, limit := l.open.Load(), l.max.Load()
		if limit > 0 && n >= limit {
			return false
		}
		if l.open.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (l *ConnLimiter) refuse(c net.Conn) {
	defer c.Close() // last: whoever sees the close sees the count and the log line
	remote := c.RemoteAddr().String()
	l.refused.Add(1)
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	every := l.LogInterval
	if every <= 0 {
		every = 10 * time.Second
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unlogged++
	t := now()
	if !l.lastLog.IsZero() && t.Sub(l.lastLog) < every {
		return
	}
	l.logger.Warn().Int64("max_connections", l.max.Load()).Uint64("refused", l.unlogged).
		Str("last_client", remote).Dur("log_interval", every).
		Msg("server.max_connections reached: refusing new connections (count since the last such line)")
	l.lastLog, l.unlogged = t, 0
}

type limitListener struct {
	net.Listener
	l *ConnLimiter
}

// Accept returns the next connection within the limit, closing those past
// it. Each refusal consumes a connection the client made, so the loop does
// work only when clients do.
func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ll.l.acquire() {
			return &limitConn{Conn: c, l: ll.l}, nil
		}
		ll.l.refuse(c)
	}
}

type limitConn struct {
	net.Conn
	l      *ConnLimiter
	closed atomic.Bool
}

func (c *limitConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
	}
	return c.Conn.Close()
}

// Limits bound what one proxied request may cost.
type Limits struct {
	// MaxBodyBytes is the largest request body in bytes. A request that
	// declares a larger Content-Length gets 413 without the backend being
	// asked; a chunked (HTTP/1.1) or undeclared (HTTP/2) body that grows
	// past it is cut, the backend's request aborted, and the client gets
	// 413 unless the backend already answered. Zero means unlimited.
	MaxBodyBytes int64
	// ReadTimeout is the longest pause, in a backend's response body,
	// between asking for data and getting some. Past it the backend
	// connection is dropped and the client's response is cut short (the
	// HTTP/1.1 connection closed, the HTTP/2 stream reset), never passed
	// off as complete. Time spent waiting for a slow client to take data
	// does not count. Zero means no limit.
	ReadTimeout time.Duration
	// ClientBodyTimeout is the longest pause, while reading a client's
	// request body, between asking for data and getting some (nginx's
	// client_body_timeout). Past it the backend's request is aborted and
	// the client gets 408 (an HTTP/1.1 connection is then closed). Time
	// spent waiting for the backend to take the body does not count. Zero
	// means no limit.
	ClientBodyTimeout time.Duration
	// SendTimeout is the longest a write of the response to the client may
	// wait for the client to take data (nginx's send_timeout): past it the
	// HTTP/1.1 connection is closed or the HTTP/2 stream reset, and the
	// backend's request aborted. It bounds slow-read clients; time spent
	// waiting for the backend does not count. Zero means no limit. Pass
	// the same value as ServerOptions.WriteByteTimeout, which covers an
	// HTTP/2 connection whose client stopped reading the socket.
	SendTimeout time.Duration
}

// ErrBackendStalled is the error a backend response body read returns once
// Limits.ReadTimeout passed without data.
var ErrBackendStalled = errors.New("backend sent no response body data within proxy.read_timeout")

// SetLimits applies l to every site of h. Call it once, before h serves.
// Whatever the limits, h then also refuses what it must never forward:
// CONNECT (405: a legacy Apache with mod_proxy_connect would open a
// tunnel) and targets that are not origin-form once routed (400: Go parses
// "GET host:port" as an opaque URL that would reach Apache as "GET port");
// a malformed request body (bad chunk framing) gets 400 instead of 502;
// and a backend response body that fails before its end (reset, truncated,
// stalled) is logged once as a warning.
func (h *Handler) SetLimits(l Limits) {
	h.bodyTimeout = l.ClientBodyTimeout
	h.sendTimeout = l.SendTimeout
	for i := range h.sites {
		rp := h.sites[i].rp
		rp.Transport = limitTransport{next: rp.Transport, limits: l, logger: h.opts.Logger}
		backendErr := rp.ErrorHandler
		rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			var tooLarge *http.MaxBytesError
			var ref *refusal
			switch {
			case errors.As(err, &ref) && ref.status == http.StatusRequestTimeout:
				// Before the context check: on HTTP/1.1 the timed-out read
				// also cancelled the request's context, but the client is
				// still there to be told.
				h.opts.Logger.Info().Str("host", r.Host).Str("method", r.Method).Str("path", r.URL.Path).
					Dur("client_body_timeout", l.ClientBodyTimeout).Msg("request body too slow: 408")
				if r.ProtoMajor == 1 {
					w.Header().Set("Connection", "close") // the rest of the body is not coming
				}
				errorPage(w, ref.status, ref.text)
			case r.Context().Err() != nil: // the client went away (499)
				backendErr(w, r, err)
			case errors.As(err, &tooLarge):
				h.opts.Logger.Info().Str("host", r.Host).Str("path", r.URL.Path).Int64("max_body_bytes", tooLarge.Limit).
					Msg("request body over proxy.max_body_bytes refused")
				errorPage(w, http.StatusRequestEntityTooLarge,
					fmt.Sprintf("The request body is larger than this server accepts (%d bytes).", tooLarge.Limit))
			case errors.As(err, &ref):
				h.opts.Logger.Info().Err(ref).Str("host", r.Host).Str("method", r.Method).Int("status", ref.status).
					Msg("request refused")
				if ref.status == http.StatusMethodNotAllowed {
					w.Header().Set("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH")
				}
				errorPage(w, ref.status, ref.text)
			default: // the backend's failure (502, 504)
				backendErr(w, r, err)
			}
		}
	}
}

// refusal is a request tlsfront does not forward, or whose forwarding it
// abandoned because of the client, with the status to answer.
type refusal struct {
	status int
	text   string // for the error page
	err    error  // the cause, when the client's body failed
}

func (r *refusal) Error() string {
	if r.err != nil {
		return r.text + ": " + r.err.Error()
	}
	return r.text
}

func (r *refusal) Unwrap() error { return r.err }

// limitTransport enforces Limits on each request to a backend.
type limitTransport struct {
	next   http.RoundTripper
	limits Limits
	logger zerolog.Logger
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.Method == http.MethodConnect:
		return nil, &refusal{status: http.StatusMethodNotAllowed, text: "CONNECT is not forwarded."}
	case r.URL.Opaque != "" || r.URL.Path != "" && r.URL.Path[0] != '/':
		return nil, &refusal{status: http.StatusBadRequest, text: "The request target is not a path."}
	case !numericContentLength(r.Header["Content-Length"]):
		// Go's HTTP/2 server reads a content-length that is not a number as
		// 0 and runs the handler, resetting the stream only when DATA comes:
		// the backend must not be asked meanwhile. (HTTP/1.1 refuses it
		// before the handler.)
		return nil, &refusal{status: http.StatusBadRequest, text: "The request's Content-Length is not a number."}
	}
	var body *clientBody
	if r.Body != nil && r.Body != http.NoBody {
		max := t.limits.MaxBodyBytes
		if max > 0 && r.ContentLength > max {
			r.Body.Close()
			return nil, &http.MaxBytesError{Limit: max}
		}
		body = &clientBody{rc: r.Body, left: max, limit: max}
		r2 := *r // a RoundTripper must not change the request it is given
		r2.Body = body
		r = &r2
	}
	parent := r.Context()
	ctx, cancel := context.WithCancelCause(parent)
	r = r.WithContext(ctx)
	res, err := t.next.RoundTrip(r)
	if err != nil {
		cancel(nil)
		be := body.failure()
		if errors.Is(be, errClientBodyTimeout) {
			return nil, &refusal{status: http.StatusRequestTimeout, text: "The request body did not arrive in time.", err: be}
		}
		if be != nil && parent.Err() == nil {
			var tooLarge *http.MaxBytesError
			if errors.As(be, &tooLarge) {
				return nil, be
			}
			return nil, &refusal{status: http.StatusBadRequest, text: "The request body is malformed.", err: be}
		}
		return nil, err
	}
	if rwc, ok := res.Body.(io.ReadWriteCloser); ok && res.StatusCode == http.StatusSwitchingProtocols {
		res.Body = upgradedBody{rwc, cancel} // ReverseProxy needs it writable; no timeout on a tunnel
		return res, nil
	}
	res.Body = newWatchedBody(res.Body, t.limits.ReadTimeout, parent, cancel, t.logger, r)
	return res, nil
}

// numericContentLength reports whether every Content-Length value is a
// decimal number.
func numericContentLength(vs []string) bool {
	for _, v := range vs {
		if v == "" || strings.Trim(v, "0123456789") != "" {
			return false
		}
	}
	return true
}

// upgradedBody is the backend side of a 101 Switching Protocols tunnel.
type upgradedBody struct {
	io.ReadWriteCloser
	cancel context.CancelCauseFunc
}

func (u upgradedBody) Close() error {
	err := u.ReadWriteCloser.Close()
	u.cancel(nil)
	return err
}

// clientBody is a request body on its way to the backend: it fails with
// *http.MaxBytesError once more than limit bytes were read (limit 0: no
// limit), and remembers the first error reading it, so that a failed
// round trip can be blamed on the client when the client's body broke.
type clientBody struct {
	rc          io.ReadCloser
	left, limit int64
	mu          sync.Mutex
	err         error
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.limit > 0 && int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit is enough to know
	}
	n, err := b.rc.Read(p)
	if b.limit > 0 {
		b.left -= int64(n)
		if b.left < 0 {
			n, err = n+int(b.left), &http.MaxBytesError{Limit: b.limit}
			b.left = 0 // the next Read asks for one byte and fails again
		}
	}
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

// failure returns the first error reading the body; nil for a nil body.
func (b *clientBody) failure() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// watchedBody is a backend response body that is cut when a read waits
// longer than timeout, and that logs once when it fails before its end.
type watchedBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	timer   *time.Timer // runs only while a Read waits on the backend
	fired   atomic.Bool
	parent  context.Context // the client's request: done when the client left
	cancel  context.CancelCauseFunc
	logger  zerolog.Logger
	req     *http.Request
	logged  bool
	closeMu sync.Once
}

func newWatchedBody(rc io.ReadCloser, timeout time.Duration, parent context.Context, cancel context.CancelCauseFunc, logger zerolog.Logger, req *http.Request) *watchedBody {
	b := &watchedBody{rc: rc, timeout: timeout, parent: parent, cancel: cancel, logger: logger, req: req}
	if timeout > 0 {
		b.timer = time.AfterFunc(time.Hour, func() {
			b.fired.Store(true)
			cancel(ErrBackendStalled) // the transport drops the backend connection; the Read returns
		})
		b.timer.Stop()
	}
	return b
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if b.timer != nil {
		b.timer.Reset(b.timeout)
	}
	n, err := b.rc.Read(p)
	if b.timer != nil && !b.timer.Stop() && b.fired.Load() {
		n, err = 0, ErrBackendStalled
	}
	if err != nil && err != io.EOF && !b.logged {
		b.logged = true
		if b.parent.Err() == nil { // not the client going away
			b.logger.Warn().Err(err).Str("host", b.req.Host).Str("path", b.req.URL.Path).
				Msg("backend response cut short: the client's response is truncated")
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.closeMu.Do(func() {
		if b.timer != nil {
			b.timer.Stop()
		}
		b.cancel(nil)
	})
	return err
}

// errClientBodyTimeout is what a request body read fails with once
// Limits.ClientBodyTimeout passed without data from the client.
var errClientBodyTimeout = errors.New("client sent no request body data within proxy.client_body_timeout")

// timedBody is a client's request body read under ClientBodyTimeout, by a
// read deadline on the client's connection (HTTP/1.1) or stream (HTTP/2),
// set afresh before each Read, so a backend slow to take the body costs
// the client nothing. On HTTP/1.1 a deadline matters only while a read is
// pending, so it is armed from the start (net/http may read the body
// itself: before writing a response header it reads up to 256 KiB of an
// unread body, the 421 path included) and kept between reads. On HTTP/2
// an expired deadline closes the body even with no read pending, so there
// it is armed only while a Read waits.
type timedBody struct {
	rc       io.ReadCloser
	timeout  time.Duration
	h1       bool
	mu       sync.Mutex               // guards what follows
	ctl      *http.ResponseController // nil once the handler returned
	eof      bool                     // the body was read to its end
	timedOut bool
}

func newTimedBody(rc io.ReadCloser, w http.ResponseWriter, r *http.Request, timeout time.Duration) *timedBody {
	b := &timedBody{rc: rc, timeout: timeout, h1: r.ProtoMajor == 1, ctl: http.NewResponseController(w)}
	if b.h1 {
		_ = b.ctl.SetReadDeadline(time.Now().Add(timeout))
	}
	return b
}

// deadline sets the read deadline, unless the handler has returned (the
// transport may still be reading the body then, and a ResponseController
// must not be used after its handler).
func (b *timedBody) deadline(t time.Time) {
	b.mu.Lock()
	if b.ctl != nil {
		_ = b.ctl.SetReadDeadline(t)
	}
	b.mu.Unlock()
}

func (b *timedBody) Read(p []byte) (int, error) {
	b.deadline(time.Now().Add(b.timeout))
	n, err := b.rc.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline stays where it is, in the past.
		b.mu.Lock()
		b.timedOut = true
		b.mu.Unlock()
		return n, fmt.Errorf("%w: %w", errClientBodyTimeout, err)
	}
	if err == io.EOF {
		b.mu.Lock()
		b.eof = true
		b.mu.Unlock()
	}
	if !b.h1 || err == io.EOF {
		// At EOF net/http starts its background read of the connection,
		// which must not inherit the deadline.
		b.deadline(time.Time{})
	}
	return n, err
}

func (b *timedBody) Close() error { return b.rc.Close() }

// stop ends the use of the ResponseController; the handler calls it before
// it returns. After a handler, net/http reads what is left of an HTTP/1.1
// body (up to 256 KiB) to reuse the connection, with no deadline of its
// own: a client that stopped sending would hold the connection forever. So
// a timed-out body keeps its past deadline (that read fails at once and
// the connection closes), an unfinished one gets the timeout once more,
// and only a finished one is cleared. (net/http sets the deadline again
// for the connection's next request.)
func (b *timedBody) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctl == nil {
		return
	}
	switch {
	case b.timedOut:
	case !b.eof && b.h1:
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.timeout))
	default:
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	b.ctl = nil
}

// timedWriter bounds each write of a response to the client by
// Limits.SendTimeout, through a write deadline on the client's connection
// (HTTP/1.1) or stream (HTTP/2). (A stream deadline resets the stream by
// queueing a frame, which a connection whose socket the client stopped
// reading never writes: ServerOptions.WriteByteTimeout bounds that
// connection as a whole.) On HTTP/1.1 a deadline matters only while
// a write waits, so it is re-armed lazily, at most every quarter of the
// timeout (a stalled write is cut after 75–100 % of it). On HTTP/2 an
// expired deadline resets the stream even between writes, so there it is
// armed for each write and cleared after.
type timedWriter struct {
	http.ResponseWriter
	ctl     *http.ResponseController
	timeout time.Duration
	h2      bool
	armed   time.Time       // HTTP/1.1: when the deadline was last set
	ctx     context.Context // the request's: done once an HTTP/2 stream is closed
}

func newTimedWriter(w http.ResponseWriter, r *http.Request, timeout time.Duration) *timedWriter {
	return &timedWriter{ResponseWriter: w, ctl: http.NewResponseController(w), timeout: timeout, h2: r.ProtoMajor == 2, ctx: r.Context()}
}

// Unwrap lets http.ResponseController reach the connection (Hijack for
// upgrades, deadlines).
func (w *timedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *timedWriter) arm() {
	if w.h2 && w.ctx.Err() != nil {
		return // the stream is closed: a timer would outlive it (see stop)
	}
	now := time.Now()
	if w.h2 || w.armed.IsZero() || now.Sub(w.armed) > w.timeout/4 {
		_ = w.ctl.SetWriteDeadline(now.Add(w.timeout))
		w.armed = now
	}
}

func (w *timedWriter) disarm() {
	if w.h2 {
		_ = w.ctl.SetWriteDeadline(time.Time{})
	}
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.arm()
	defer w.disarm()
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController.Flush (and ReverseProxy's
// flushing) calls.
func (w *timedWriter) FlushError() error {
	w.arm()
	defer w.disarm()
	return w.ctl.Flush() // ctl wraps the writer below this one
}

// stop arms the HTTP/1.1 deadline once more for what net/http writes after
// the handler (the last buffered bytes, the chunked trailer): a client that
// stops reading at the very end is cut too; net/http clears the deadline
// after each request. Not on HTTP/2: the stream's timer is set by a message
// to the connection's serve loop that can arrive after the stream closed
// (the handler's last frames travel by another channel), and a timer set
// then outlives the stream, keeping it in memory for the whole timeout and
// sending a stray RST_STREAM at the end — a 10-minute soak showed RSS
// doubling from it. What HTTP/2 buffers after the handler is at most one
// write buffer per stream, and WriteByteTimeout covers stalled sockets.
func (w *timedWriter) stop() {
	if !w.h2 {
		_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}
