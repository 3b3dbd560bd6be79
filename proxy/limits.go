package proxy

import (
	"errors"
	"net"
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

// NetConn returns the connection below (the H1 engine's idle wait reaches
// the socket through it).
func (c *limitConn) NetConn() net.Conn { return c.Conn }

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
