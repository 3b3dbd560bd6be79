package proxy

// Inbound PROXY protocol (HAProxy's spec, versions 1 and 2) on the HTTPS
// listener: an L4 load balancer in front of several tlsfront instances
// prefixes each TCP connection with a header naming the client, so client
// addresses survive for logs, X-Forwarded-For and metrics. The header is
// read before TLS: ProxyProtocolListener wraps the TCP listener, and
// tls.NewListener wraps it.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// ProxyProtocolListener wraps ln so that connections from trusted peers
// (the load balancers; trusted gets the peer's address, IPv4-mapped IPv6
// unmapped) must start with a PROXY protocol v1 or v2 header, which is
// consumed: the returned conn's RemoteAddr and LocalAddr are the client's
// and the destination the client connected to. A header that names no
// client (v1 UNKNOWN, v2 LOCAL, the balancer's own health check, and v2
// PROXY over AF_UNSPEC or AF_UNIX) keeps the real addresses: RemoteAddr is
// then the balancer's, whose forwarding headers are really the end client's,
// so the request path must not trust them (see ProxyHeader).
// Connections from other peers (all of them when trusted is nil) are
// returned untouched: a header they send is not parsed and reaches TLS as
// garbage, which fails the handshake.
//
// timeout bounds reading the header; zero means 5s. Accept never waits for
// a header: it is read by the connection's first Read or RemoteAddr call,
// in the goroutine serving it (http.Server calls RemoteAddr first). A
// missing, malformed or late header closes the connection; Read then
// returns the error.
func ProxyProtocolListener(ln net.Listener, trusted func(netip.Addr) bool, timeout time.Duration) net.Listener {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &ppListener{Listener: ln, trusted: trusted, timeout: timeout}
}

type ppListener struct {
	net.Listener
	trusted func(netip.Addr) bool
	timeout time.Duration
}

func (l *ppListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil || l.trusted == nil || !l.trusted(ap.Addr().Unmap()) {
		return c, nil
	}
	return ExpectProxyHeader(c, l.timeout), nil
}

// ExpectProxyHeader is ProxyProtocolListener for one connection, for an
// accept loop that decides itself: c, from a trusted peer, must start with
// a PROXY protocol header, read lazily (by the first Read or RemoteAddr)
// within timeout (zero means 5s).
func ExpectProxyHeader(c net.Conn, timeout time.Duration) net.Conn {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &ppConn{Conn: c, timeout: timeout}
}

// ppConn is a connection from a trusted peer whose header is read lazily.
type ppConn struct {
	net.Conn
	timeout time.Duration

	once     sync.Once
	err      error         // header error; the conn is closed
	r        *bufio.Reader // bytes read past the header; nil once drained
	src, dst net.Addr      // from the header; nil for LOCAL and UNKNOWN

	mu           sync.Mutex
	readDeadline time.Time // the caller's, restored after the header
}

func (c *ppConn) header() error {
	c.once.Do(func() {
		c.mu.Lock()
		dl := time.Now().Add(c.timeout)
		if !c.readDeadline.IsZero() && c.readDeadline.Before(dl) {
			dl = c.readDeadline
		}
		_ = c.Conn.SetReadDeadline(dl)
		c.mu.Unlock()

		br := bufio.NewReaderSize(c.Conn, 256)
		src, dst, err := readProxyHeader(br)

		c.mu.Lock()
		_ = c.Conn.SetReadDeadline(c.readDeadline)
		c.mu.Unlock()
		if err != nil {
			c.err = fmt.Errorf("PROXY protocol header from %s: %w", c.Conn.RemoteAddr(), err)
			c.Conn.Close()
			return
		}
		c.src, c.dst = src, dst
		if br.Buffered() > 0 {
			c.r = br
		}
	})
	return c.err
}

func (c *ppConn) Read(p []byte) (int, error) {
	if err := c.header(); err != nil {
		return 0, err
	}
	if c.r != nil {
		n, err := c.r.Read(p)
		if c.r.Buffered() == 0 {
			c.r = nil
		}
		return n, err
	}
	return c.Conn.Read(p)
}

// RemoteAddr returns the client address from the header, reading the
// header first if needed (bounded by the timeout); the peer's own address
// when the header is LOCAL, UNKNOWN or bad.
func (c *ppConn) RemoteAddr() net.Addr {
	if c.header() == nil && c.src != nil {
		return c.src
	}
	return c.Conn.RemoteAddr()
}

// NamedClient reports whether the connection's PROXY header named the
// client: true for v1 TCP4/TCP6 and v2 PROXY over TCP/IPv4 or IPv6, whose
// source address RemoteAddr then returns; false for v1 UNKNOWN, v2 LOCAL,
// v2 PROXY over AF_UNSPEC or AF_UNIX, and a missing or bad header, after
// which RemoteAddr is the balancer's own address. It reads the header first
// if needed, like RemoteAddr.
func (c *ppConn) NamedClient() bool { return c.header() == nil && c.src != nil }

// NetConn returns the connection below, or nil while bytes read past the
// header wait in the buffer (the socket then says nothing about them).
func (c *ppConn) NetConn() net.Conn {
	if c.header() != nil || c.r != nil {
		return nil
	}
	return c.Conn
}

// ProxyHeader reports whether c came through ProxyProtocolListener from a
// trusted balancer (proxied) and, if so, whether its PROXY header named the
// client (named; see NamedClient). c is the accepted connection or any
// wrapper of it with a NetConn method, such as *tls.Conn. A connection from
// a balancer whose header named no client is proxied but not named: its
// RemoteAddr is the balancer, its forwarding headers are the end client's.
func ProxyHeader(c net.Conn) (proxied, named bool) {
	for range 8 { // a bound on wrappers, in case one unwraps to itself
		switch v := c.(type) {
		case nil:
			return false, false
		case *ppConn:
			return true, v.NamedClient()
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return false, false
		}
	}
	return false, false
}

// LocalAddr returns the destination address from the header, like
// RemoteAddr.
func (c *ppConn) LocalAddr() net.Addr {
	if c.header() == nil && c.dst != nil {
		return c.dst
	}
	return c.Conn.LocalAddr()
}

func (c *ppConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	return c.Conn.SetDeadline(t)
}

func (c *ppConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	return c.Conn.SetReadDeadline(t)
}

// PROXY protocol constants (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	v1MaxLen   = 107 // the longest v1 line, CRLF included
	v2MaxLen   = 4096
	v2CmdLocal = 0x0
	v2CmdProxy = 0x1
)

var errNoHeader = errors.New("no PROXY protocol header (the peer is a trusted proxy, which must send one)")

// readProxyHeader consumes one v1 or v2 header from r and returns the
// source and destination it names, both nil when it names none (v2 LOCAL,
// v2 unspecified or unix family, v1 UNKNOWN).
func readProxyHeader(r *bufio.Reader) (src, dst net.Addr, err error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, nil, fmt.Errorf("reading: %w", err)
	}
	switch first[0] {
	case 'P':
		return readV1(r)
	case '\r':
		return readV2(r)
	}
	return nil, nil, errNoHeader
}

func readV1(r *bufio.Reader) (net.Addr, net.Addr, error) {
	line := make([]byte, 0, v1MaxLen)
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, nil, fmt.Errorf("reading v1 header: %w", err)
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
		if len(line) == v1MaxLen {
			return nil, nil, fmt.Errorf("v1 header longer than %d bytes", v1MaxLen)
		}
	}
	if !bytes.HasSuffix(line, []byte("\r\n")) {
		return nil, nil, errors.New("v1 header does not end in CRLF")
	}
	f := bytes.Split(line[:len(line)-2], []byte(" "))
	if string(f[0]) != "PROXY" || len(f) < 2 {
		return nil, nil, errNoHeader
	}
	proto := string(f[1])
	if proto == "UNKNOWN" {
		return nil, nil, nil // the rest of the line is ignored
	}
	if proto != "TCP4" && proto != "TCP6" {
		return nil, nil, fmt.Errorf("v1 protocol %q (want TCP4, TCP6 or UNKNOWN)", proto)
	}
	if len(f) != 6 {
		return nil, nil, fmt.Errorf("v1 header has %d fields, want 6", len(f))
	}
	var addrs [2]netip.AddrPort
	for i := range addrs {
		ip, err := netip.ParseAddr(string(f[2+i]))
		if err != nil || ip.Zone() != "" || (proto == "TCP4") != ip.Is4() {
			return nil, nil, fmt.Errorf("v1 address %q is not an %s address", f[2+i], proto)
		}
		port, err := parseV1Port(f[4+i])
		if err != nil {
			return nil, nil, err
		}
		addrs[i] = netip.AddrPortFrom(ip.Unmap(), port)
	}
	return net.TCPAddrFromAddrPort(addrs[0]), net.TCPAddrFromAddrPort(addrs[1]), nil
}

// parseV1Port accepts 0..65535 in decimal without sign or leading zeros.
func parseV1Port(b []byte) (uint16, error) {
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil || len(b) == 0 || b[0] == '+' || (len(b) > 1 && b[0] == '0') {
		return 0, fmt.Errorf("v1 port %q is not a port number", b)
	}
	return uint16(n), nil
}

func readV2(r *bufio.Reader) (net.Addr, net.Addr, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, fmt.Errorf("reading v2 header: %w", err)
	}
	if !bytes.Equal(hdr[:12], v2Signature) {
		return nil, nil, errNoHeader
	}
	if hdr[12]>>4 != 2 {
		return nil, nil, fmt.Errorf("v2 header version %d (want 2)", hdr[12]>>4)
	}
	cmd, family := hdr[12]&0xf, hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	if n > v2MaxLen {
		return nil, nil, fmt.Errorf("v2 header announces %d bytes of addresses and TLVs (at most %d accepted)", n, v2MaxLen)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, nil, fmt.Errorf("reading v2 addresses: %w", err)
	}
	switch cmd {
	case v2CmdLocal:
		return nil, nil, nil
	case v2CmdProxy:
	default:
		return nil, nil, fmt.Errorf("v2 command %#x (want LOCAL or PROXY)", cmd)
	}
	var ipLen int
	switch family {
	case 0x11: // TCP over IPv4
		ipLen = 4
	case 0x21: // TCP over IPv6
		ipLen = 16
	case 0x00, 0x31: // unspecified, unix stream: no usable address
		return nil, nil, nil
	default:
		return nil, nil, fmt.Errorf("v2 address family/protocol %#02x (want TCP over IPv4 or IPv6)", family)
	}
	if n < 2*ipLen+4 {
		return nil, nil, fmt.Errorf("v2 header has %d bytes of addresses, want at least %d", n, 2*ipLen+4)
	}
	srcIP, _ := netip.AddrFromSlice(body[:ipLen])
	dstIP, _ := netip.AddrFromSlice(body[ipLen : 2*ipLen])
	srcPort := binary.BigEndian.Uint16(body[2*ipLen:])
	dstPort := binary.BigEndian.Uint16(body[2*ipLen+2:])
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(srcIP.Unmap(), srcPort)),
		net.TCPAddrFromAddrPort(netip.AddrPortFrom(dstIP.Unmap(), dstPort)), nil
}
