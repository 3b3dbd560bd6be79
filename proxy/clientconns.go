package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/shield"
)

// ClientConnLimit wraps ln so that each client (an IPv4 address, an IPv6
// /64) holds at most conns.Max() connections at once
// (server.max_conns_per_client); the count is shared by every listener
// wrapped with the same conns. Place it above ProxyProtocolListener: the
// client is the address the PROXY header names. A connection from a direct
// client is counted at Accept and, past the limit, closed there, before
// any handshake; one whose PROXY header is still unread is counted by its
// first Read (the TLS handshake's), which fails past the limit with an
// error naming server.max_conns_per_client. Clients that trusted reports
// true for (the load balancers and proxies of headers.trusted_proxies,
// which carry many clients) are not counted. Refusals are logged at most
// once per 10 s through logger, with a count.
func ClientConnLimit(ln net.Listener, conns *shield.Conns, trusted func(netip.Addr) bool, logger *RefusalLog) net.Listener {
	return &clientLimitListener{Listener: ln, lim: NewClientConnLimiter(conns, trusted, logger)}
}

// ClientConnLimiter is ClientConnLimit for an accept loop that wraps each
// connection itself (see Admit).
type ClientConnLimiter struct {
	conns   *shield.Conns
	trusted func(netip.Addr) bool
	log     *RefusalLog
}

// NewClientConnLimiter returns the limiter ClientConnLimit applies: conns
// counts, trusted clients are not counted, refusals go to logger.
func NewClientConnLimiter(conns *shield.Conns, trusted func(netip.Addr) bool, logger *RefusalLog) *ClientConnLimiter {
	return &ClientConnLimiter{conns: conns, trusted: trusted, log: logger}
}

// Admit counts c against its client's limit and returns it wrapped, or
// closes it and reports false past the limit. A connection whose PROXY
// header is still unread (ExpectProxyHeader's) is counted by its first
// Read instead, as ClientConnLimit describes.
func (l *ClientConnLimiter) Admit(c net.Conn) (net.Conn, bool) {
	cc := &clientConn{Conn: c, l: l}
	if _, lazy := c.(*ppConn); lazy {
		return cc, true // the client is known once the header is read
	}
	if err := cc.admit(); err != nil {
		return nil, false
	}
	return cc, true
}

type clientLimitListener struct {
	net.Listener
	lim *ClientConnLimiter
}

func (l *clientLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if cc, ok := l.lim.Admit(c); ok {
			return cc, nil
		} // closed; the loop does work only when clients do
	}
}

// clientConn is a connection counted against its client's limit.
type clientConn struct {
	net.Conn
	l    *ClientConnLimiter
	once sync.Once
	err  error // admission refused: the connection is closed

	mu      sync.Mutex // guards what follows: Close may race with admit
	client  netip.Addr // valid when counted
	counted bool
	closed  bool
}

// admit counts the connection, or closes it past the limit.
func (c *clientConn) admit() error {
	c.once.Do(func() {
		a := clientIP(c.Conn.RemoteAddr().String()) // reads a PROXY header
		if !a.IsValid() || (c.l.trusted != nil && c.l.trusted(a)) {
			return
		}
		if !c.l.conns.Acquire(a) {
			c.err = fmt.Errorf("server.max_conns_per_client (%d) reached for %s: connection closed", c.l.conns.Max(), a)
			c.Conn.Close()
			c.l.log.refused(a, c.l.conns.Max())
			return
		}
		c.mu.Lock()
		if c.closed { // closed while its header was read
			c.l.conns.Release(a)
		} else {
			c.client, c.counted = a, true
		}
		c.mu.Unlock()
	})
	return c.err
}

// NetConn returns the connection below, so that ProxyHeader finds the
// PROXY protocol connection through this wrapper.
func (c *clientConn) NetConn() net.Conn { return c.Conn }

func (c *clientConn) Read(p []byte) (int, error) {
	if err := c.admit(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *clientConn) Close() error {
	c.mu.Lock()
	if !c.closed && c.counted {
		c.l.conns.Release(c.client)
	}
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// RefusalLog reports refused connections at most once per interval, with
// how many were refused since the last line. Its zero value is not usable:
// see NewRefusalLog.
type RefusalLog struct {
	every    time.Duration
	mu       sync.Mutex
	logger   zerolog.Logger
	last     time.Time
	unlogged uint64
}

// NewRefusalLog returns a RefusalLog writing to logger at most every
// interval (zero means 10 s).
func NewRefusalLog(logger zerolog.Logger, every time.Duration) *RefusalLog {
	if every <= 0 {
		every = 10 * time.Second
	}
	return &RefusalLog{logger: logger, every: every}
}

// SetLogger changes where refusals are reported.
func (r *RefusalLog) SetLogger(logger zerolog.Logger) {
	r.mu.Lock()
	r.logger = logger
	r.mu.Unlock()
}

func (r *RefusalLog) refused(client netip.Addr, limit int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unlogged++
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		return
	}
	r.logger.Warn().Int("max_conns_per_client", limit).Uint64("refused", r.unlogged).Str("last_client", client.String()).
		Dur("log_interval", r.every).Msg("server.max_conns_per_client reached: refusing a client's new connections (count since the last such line)")
	r.last, r.unlogged = now, 0
}
