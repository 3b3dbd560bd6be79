// h1ceiling: measurement prototype of a TLS-terminating HTTP/1.1 reverse proxy
// that avoids net/http's Server and Transport goroutine model.
//
// One goroutine per accepted connection (handshake included). Each connection
// goroutine borrows at most one backend TCP connection at a time from a global
// pool and talks to it synchronously. Between requests the client's bufio
// Reader/Writer go back to a sync.Pool and the goroutine blocks on a 1-byte
// read straight from the tls.Conn.
//
//	-mode raw      hand-written request/response parsing (zero alloc per request in steady state)
//	-mode parsers  http.ReadRequest / Request.Write / http.ReadResponse / Response.Write
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	idleTimeout      = 120 * time.Second
	handshakeTimeout = 10 * time.Second
	dialTimeout      = 5 * time.Second
	poolCap          = 256
	clientBufSize    = 4096
	backendBufSize   = 4096
	maxHeaderBytes   = 64 << 10
	maxScratchKeep   = 16 << 10
	hstsValue        = "max-age=63072000; includeSubDomains"
)

var (
	backendAddr string
	rawMode     bool
)

// ---------------------------------------------------------------- logging

var loggedKinds sync.Map

// logOnce logs the first error of each kind only.
func logOnce(kind string, err error) {
	if _, loaded := loggedKinds.LoadOrStore(kind, struct{}{}); !loaded {
		log.Printf("%s: %v (further %q errors are not logged)", kind, err, kind)
	}
}

// ---------------------------------------------------------------- backend pool

type backendConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

var (
	poolMu   sync.Mutex
	idlePool = make([]*backendConn, 0, poolCap)
)

// getBackend returns an idle pooled connection (reused=true) or dials one.
func getBackend() (bc *backendConn, reused bool, err error) {
	poolMu.Lock()
	if n := len(idlePool); n > 0 {
		bc = idlePool[n-1]
		idlePool[n-1] = nil
		idlePool = idlePool[:n-1]
		poolMu.Unlock()
		return bc, true, nil
	}
	poolMu.Unlock()
	bc, err = dialBackend()
	return bc, false, err
}

func dialBackend() (*backendConn, error) {
	c, err := net.DialTimeout("tcp", backendAddr, dialTimeout)
	if err != nil {
		return nil, err
	}
	return &backendConn{
		c:  c,
		br: bufio.NewReaderSize(c, backendBufSize),
		bw: bufio.NewWriterSize(c, backendBufSize),
	}, nil
}

// putBackend gives a connection back after a complete response.
func putBackend(bc *backendConn) {
	if bc.br.Buffered() != 0 { // unexpected extra bytes: connection is out of sync
		bc.c.Close()
		return
	}
	poolMu.Lock()
	if len(idlePool) < poolCap {
		idlePool = append(idlePool, bc)
		poolMu.Unlock()
		return
	}
	poolMu.Unlock()
	bc.c.Close()
}

// ---------------------------------------------------------------- client side

// clientBufs is what a connection holds only while a request is in flight.
type clientBufs struct {
	br *bufio.Reader
	bw *bufio.Writer
	// raw-mode scratch for the outgoing request
	reqLine []byte
	host    []byte
	hdrs    []byte
}

var bufPool = sync.Pool{New: func() any {
	return &clientBufs{
		br: bufio.NewReaderSize(nil, clientBufSize),
		bw: bufio.NewWriterSize(nil, clientBufSize),
	}
}}

// pendingReader yields the byte read while idle, then reads from the tls.Conn.
type pendingReader struct {
	tc  *tls.Conn
	b   [1]byte
	has bool
}

func (p *pendingReader) Read(buf []byte) (int, error) {
	if p.has {
		if len(buf) == 0 {
			return 0, nil
		}
		buf[0] = p.b[0]
		p.has = false
		return 1, nil
	}
	return p.tc.Read(buf)
}

type clientConn struct {
	tc   *tls.Conn
	pr   pendingReader
	bufs *clientBufs
	ip   string
}

func (c *clientConn) acquireBufs() {
	b := bufPool.Get().(*clientBufs)
	b.br.Reset(&c.pr)
	b.bw.Reset(c.tc)
	c.bufs = b
}

func (c *clientConn) releaseBufs() {
	b := c.bufs
	if b == nil {
		return
	}
	c.bufs = nil
	b.br.Reset(nil)
	b.bw.Reset(nil)
	if cap(b.reqLine) > maxScratchKeep {
		b.reqLine = nil
	}
	if cap(b.host) > maxScratchKeep {
		b.host = nil
	}
	if cap(b.hdrs) > maxScratchKeep {
		b.hdrs = nil
	}
	bufPool.Put(b)
}

func serve(nc net.Conn, cfg *tls.Config) {
	tc := tls.Server(nc, cfg)
	defer tc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		logOnce("tls handshake", err)
		return
	}
	c := &clientConn{tc: tc, ip: clientIP(nc.RemoteAddr())}
	c.pr.tc = tc
	defer c.releaseBufs()

	for {
		tc.SetReadDeadline(time.Now().Add(idleTimeout))
		if c.bufs == nil || c.bufs.br.Buffered() == 0 {
			// Idle: hold no buffers, wait for the first byte of the next request.
			c.releaseBufs()
			n, err := tc.Read(c.pr.b[:])
			if n == 0 {
				if err != nil && !isQuiet(err) {
					logOnce("client idle read", err)
				}
				return
			}
			c.pr.has = true
			c.acquireBufs()
		}
		var keep bool
		if rawMode {
			keep = c.serveRaw()
		} else {
			keep = c.serveParsers()
		}
		if !keep {
			return
		}
	}
}

func clientIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

func isQuiet(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed)
}

// fail writes a minimal error response and tells the caller to close.
// Only valid while nothing of the current response has reached the client.
func (c *clientConn) fail(code int) bool {
	bw := c.bufs.bw
	bw.Reset(c.tc)
	var s string
	switch code {
	case 400:
		s = "HTTP/1.1 400 Bad Request\r\n"
	case 431:
		s = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	case 502:
		s = "HTTP/1.1 502 Bad Gateway\r\n"
	default:
		s = "HTTP/1.1 500 Internal Server Error\r\n"
	}
	bw.WriteString(s)
	bw.WriteString("Content-Length: 0\r\nConnection: close\r\n\r\n")
	bw.Flush()
	return false
}

// ---------------------------------------------------------------- raw mode

const (
	hOther = iota
	hHost
	hConnection
	hKeepAlive
	hProxyConnection
	hTE
	hUpgrade
	hTransferEncoding
	hContentLength
	hXForwardedProto
)

func hdrKind(name []byte) int {
	switch len(name) {
	case 2:
		if eqFold(name, "te") {
			return hTE
		}
	case 4:
		if eqFold(name, "host") {
			return hHost
		}
	case 7:
		if eqFold(name, "upgrade") {
			return hUpgrade
		}
	case 10:
		if eqFold(name, "connection") {
			return hConnection
		}
		if eqFold(name, "keep-alive") {
			return hKeepAlive
		}
	case 14:
		if eqFold(name, "content-length") {
			return hContentLength
		}
	case 16:
		if eqFold(name, "proxy-connection") {
			return hProxyConnection
		}
	case 17:
		if eqFold(name, "transfer-encoding") {
			return hTransferEncoding
		}
		if eqFold(name, "x-forwarded-proto") {
			return hXForwardedProto
		}
	}
	return hOther
}

// eqFold compares b case-insensitively with the lower-case ASCII string s.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func trimCRLF(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list v contains tok (lower case).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i < 0 {
			t, v = v, nil
		} else {
			t, v = v[:i], v[i+1:]
		}
		if eqFold(trimOWS(t), tok) {
			return true
		}
	}
	return false
}

func lastTokenIs(v []byte, tok string) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return eqFold(trimOWS(v), tok)
}

func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return n, digits > 0 && (c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
		}
		if digits >= 15 {
			return 0, false
		}
		n = n<<4 | int64(d)
		digits++
	}
	return n, false // no line terminator
}

// validToken: RFC 9110 tchar only.
func validToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// validTarget: no whitespace or control characters.
func validTarget(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// validValue: no NUL, bare CR or other line-breaking controls.
func validValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// copyN copies exactly n bytes from src to dst without allocating.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) error {
	for n > 0 {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := src.Buffered()
		if int64(k) > n {
			k = int(n)
		}
		p, _ := src.Peek(k)
		if _, err := dst.Write(p); err != nil {
			return err
		}
		src.Discard(k)
		n -= int64(k)
	}
	return nil
}

// copyToEOF copies until src reports io.EOF.
func copyToEOF(dst *bufio.Writer, src *bufio.Reader) error {
	for {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
		k := src.Buffered()
		p, _ := src.Peek(k)
		if _, err := dst.Write(p); err != nil {
			return err
		}
		src.Discard(k)
	}
}

var errBadChunk = errors.New("malformed chunked body from backend")

// copyChunked copies a chunked body (including framing and trailers) verbatim.
func copyChunked(dst *bufio.Writer, src *bufio.Reader) error {
	for {
		line, err := src.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return errBadChunk
		}
		if _, err := dst.Write(line); err != nil {
			return err
		}
		if size == 0 {
			for { // trailer section up to the empty line
				line, err = src.ReadSlice('\n')
				if err != nil {
					return err
				}
				if _, err := dst.Write(line); err != nil {
					return err
				}
				if len(trimCRLF(line)) == 0 {
					return nil
				}
			}
		}
		if err := copyN(dst, src, size); err != nil {
			return err
		}
		line, err = src.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(trimCRLF(line)) != 0 {
			return errBadChunk
		}
		if _, err := dst.Write(line); err != nil {
			return err
		}
	}
}

var errBadResponse = errors.New("malformed response from backend")

// headFail handles a backend error while the response head is being copied:
// 502 if nothing has been flushed to the client yet, otherwise just close.
func (c *clientConn) headFail(bc *backendConn, written int, err error) bool {
	logOnce("backend response", err)
	bc.c.Close()
	if written == c.bufs.bw.Buffered() {
		return c.fail(502)
	}
	return false
}

func (c *clientConn) serveRaw() bool {
	b := c.bufs
	br := b.br

	// ---- request line (a few leading empty lines are tolerated)
	var line []byte
	var err error
	for i := 0; ; i++ {
		line, err = br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return c.fail(431)
			}
			if !isQuiet(err) {
				logOnce("client read", err)
			}
			return false
		}
		if len(trimCRLF(line)) > 0 {
			break
		}
		if i >= 4 {
			return c.fail(400)
		}
	}
	total := len(line)
	line = trimCRLF(line)
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return c.fail(400)
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return c.fail(400)
	}
	method, target, proto := line[:sp1], rest[:sp2], rest[sp2+1:]
	var http10 bool
	switch string(proto) { // no allocation: string(b) in switch is optimised
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return c.fail(400)
	}
	if !validToken(method) || !validTarget(target) {
		return c.fail(400)
	}
	isHead := string(method) == "HEAD"
	idempotent := isHead || string(method) == "GET"
	b.reqLine = append(b.reqLine[:0], method...)
	b.reqLine = append(b.reqLine, ' ')
	b.reqLine = append(b.reqLine, target...)
	b.reqLine = append(b.reqLine, " HTTP/1.1\r\nHost: "...)
	b.host = b.host[:0]
	b.hdrs = b.hdrs[:0]
	haveHost := false
	keepAlive := !http10

	// ---- request headers
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return c.fail(431)
			}
			if !isQuiet(err) {
				logOnce("client read", err)
			}
			return false
		}
		total += len(line)
		if total > maxHeaderBytes {
			return c.fail(431)
		}
		l := trimCRLF(line)
		if len(l) == 0 {
			break
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 || !validToken(l[:colon]) || !validValue(l[colon+1:]) {
			return c.fail(400) // also rejects obs-fold (leading SP/HTAB)
		}
		name, val := l[:colon], trimOWS(l[colon+1:])
		switch hdrKind(name) {
		case hHost:
			if haveHost {
				return c.fail(400)
			}
			haveHost = true
			b.host = append(b.host, val...)
		case hConnection:
			if hasToken(val, "close") {
				keepAlive = false
			} else if http10 && hasToken(val, "keep-alive") {
				keepAlive = true
			}
		case hKeepAlive, hProxyConnection, hTE, hUpgrade, hXForwardedProto:
			// dropped
		case hTransferEncoding:
			return c.fail(400)
		case hContentLength:
			if n, ok := parseUint(val); !ok || n > 0 {
				return c.fail(400)
			}
			// Content-Length: 0 is dropped: no body either way.
		default:
			b.hdrs = append(b.hdrs, l...)
			b.hdrs = append(b.hdrs, '\r', '\n')
		}
	}
	if !haveHost {
		if !http10 {
			return c.fail(400)
		}
		b.host = append(b.host, backendAddr...)
	}

	// ---- send to backend; one retry on a fresh connection if a pooled one was stale
	bc, reused, err := getBackend()
	if err != nil {
		logOnce("backend dial", err)
		return c.fail(502)
	}
	for attempt := 0; ; attempt++ {
		bw := bc.bw
		bw.Write(b.reqLine)
		bw.Write(b.host)
		bw.WriteString("\r\n")
		bw.Write(b.hdrs)
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(c.ip)
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\n\r\n")
		err = bw.Flush()
		if err == nil {
			line, err = bc.br.ReadSlice('\n')
		}
		if err == nil {
			break
		}
		bc.c.Close()
		if !reused || attempt > 0 || !idempotent {
			logOnce("backend request", err)
			return c.fail(502)
		}
		if bc, err = dialBackend(); err != nil {
			logOnce("backend dial", err)
			return c.fail(502)
		}
		reused = false
	}

	// ---- response head
	cbw := b.bw
	written := 0 // bytes put into cbw for this response so far
	var (
		cl          int64 = -1
		chunked     bool
		hasTE       bool
		backendKeep bool
		code        int
	)
	for {
		st := trimCRLF(line)
		if len(st) < 12 || string(st[:7]) != "HTTP/1." || st[8] != ' ' ||
			(len(st) > 12 && st[12] != ' ') {
			return c.headFail(bc, written, errBadResponse)
		}
		backend10 := st[7] == '0'
		code = 0
		for _, d := range st[9:12] {
			if d < '0' || d > '9' {
				return c.headFail(bc, written, errBadResponse)
			}
			code = code*10 + int(d-'0')
		}
		interim := code >= 100 && code < 200
		if code == 101 {
			return c.headFail(bc, written, errors.New("unexpected 101 from backend"))
		}
		if !interim {
			cbw.WriteString("HTTP/1.1")
			cbw.Write(st[8:])
			cbw.WriteString("\r\n")
			written += len("HTTP/1.1") + len(st) - 8 + 2
		}
		cl, chunked, hasTE = -1, false, false
		backendKeep = !backend10
		for {
			line, err = bc.br.ReadSlice('\n')
			if err != nil {
				return c.headFail(bc, written, err)
			}
			l := trimCRLF(line)
			if len(l) == 0 {
				break
			}
			if interim {
				continue // 1xx responses are swallowed
			}
			colon := bytes.IndexByte(l, ':')
			if colon <= 0 {
				return c.headFail(bc, written, errBadResponse)
			}
			val := trimOWS(l[colon+1:])
			switch hdrKind(l[:colon]) {
			case hConnection:
				if hasToken(val, "close") {
					backendKeep = false
				} else if backend10 && hasToken(val, "keep-alive") {
					backendKeep = true
				}
				continue
			case hKeepAlive:
				continue
			case hContentLength:
				n, ok := parseUint(val)
				if !ok || (cl >= 0 && cl != n) {
					return c.headFail(bc, written, errBadResponse)
				}
				cl = n
			case hTransferEncoding:
				hasTE = true
				chunked = lastTokenIs(val, "chunked")
			}
			cbw.Write(l)
			cbw.WriteString("\r\n")
			written += len(l) + 2
		}
		if !interim {
			break
		}
		if line, err = bc.br.ReadSlice('\n'); err != nil {
			return c.headFail(bc, written, err)
		}
	}
	if hasTE && cl >= 0 {
		return c.headFail(bc, written, errors.New("backend sent both Content-Length and Transfer-Encoding"))
	}
	noBody := isHead || code == 204 || code == 304
	untilEOF := !noBody && !chunked && (cl < 0 || hasTE)
	if untilEOF {
		keepAlive = false
		backendKeep = false
	}
	cbw.WriteString("Strict-Transport-Security: " + hstsValue + "\r\n")
	if !keepAlive {
		cbw.WriteString("Connection: close\r\n")
	} else if http10 {
		cbw.WriteString("Connection: keep-alive\r\n")
	}
	cbw.WriteString("\r\n")

	// ---- response body
	switch {
	case noBody:
	case chunked:
		err = copyChunked(cbw, bc.br)
	case untilEOF:
		err = copyToEOF(cbw, bc.br)
	default:
		err = copyN(cbw, bc.br, cl)
	}
	if err != nil {
		logOnce("response body", err)
		bc.c.Close()
		return false
	}
	if backendKeep {
		putBackend(bc)
	} else {
		bc.c.Close()
	}
	if err := cbw.Flush(); err != nil {
		return false
	}
	return keepAlive
}

// ---------------------------------------------------------------- parsers mode

var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, sf := range strings.Split(f, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

func (c *clientConn) serveParsers() bool {
	b := c.bufs
	req, err := http.ReadRequest(b.br)
	if err != nil {
		if isQuiet(err) {
			return false
		}
		return c.fail(400)
	}
	if req.ContentLength > 0 || len(req.TransferEncoding) > 0 ||
		(req.Host == "" && req.ProtoAtLeast(1, 1)) {
		return c.fail(400)
	}
	keepAlive := !req.Close
	idempotent := req.Method == "GET" || req.Method == "HEAD"

	out := req.Clone(context.Background())
	out.URL.Scheme = "http"
	out.URL.Host = backendAddr
	out.RequestURI = ""
	out.Close = false
	removeHopHeaders(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // keep Request.Write from adding Go's default
	}
	xff := c.ip
	if prior, ok := out.Header["X-Forwarded-For"]; ok {
		xff = strings.Join(prior, ", ") + ", " + xff
	}
	out.Header.Set("X-Forwarded-For", xff)
	out.Header.Set("X-Forwarded-Proto", "https")

	bc, reused, err := getBackend()
	if err != nil {
		logOnce("backend dial", err)
		return c.fail(502)
	}
	var res *http.Response
	for attempt := 0; ; attempt++ {
		err = out.Write(bc.bw)
		if err == nil {
			err = bc.bw.Flush()
		}
		if err == nil {
			res, err = http.ReadResponse(bc.br, out)
			// swallow 1xx interim responses
			for err == nil && res.StatusCode >= 100 && res.StatusCode < 200 && res.StatusCode != 101 {
				res, err = http.ReadResponse(bc.br, out)
			}
		}
		if err == nil {
			break
		}
		bc.c.Close()
		if !reused || attempt > 0 || !idempotent {
			logOnce("backend request", err)
			return c.fail(502)
		}
		if bc, err = dialBackend(); err != nil {
			logOnce("backend dial", err)
			return c.fail(502)
		}
		reused = false
	}
	if res.StatusCode == 101 {
		logOnce("backend response", errors.New("unexpected 101 from backend"))
		bc.c.Close()
		return c.fail(502)
	}

	backendKeep := !res.Close
	removeHopHeaders(res.Header)
	res.Header.Set("Strict-Transport-Security", hstsValue)
	chunked := len(res.TransferEncoding) > 0 && res.TransferEncoding[0] == "chunked"
	bodyAllowed := req.Method != "HEAD" && res.StatusCode != 204 && res.StatusCode != 304
	if bodyAllowed && res.ContentLength < 0 && !chunked {
		keepAlive = false // body delimited by close
	}
	if keepAlive && req.ProtoMajor == 1 && req.ProtoMinor == 0 {
		res.Header.Set("Connection", "keep-alive")
	}
	res.Proto, res.ProtoMajor, res.ProtoMinor = "HTTP/1.1", 1, 1
	res.Close = !keepAlive

	err = res.Write(b.bw)
	res.Body.Close()
	if err != nil {
		logOnce("response write", err)
		bc.c.Close()
		return false
	}
	if backendKeep {
		putBackend(bc)
	} else {
		bc.c.Close()
	}
	if err := b.bw.Flush(); err != nil {
		return false
	}
	return keepAlive
}

// ---------------------------------------------------------------- main

func main() {
	listen := flag.String("listen", "127.0.0.1:8447", "listen address")
	flag.StringVar(&backendAddr, "backend", "127.0.0.1:18080", "plain-HTTP backend address")
	certFile := flag.String("cert", "/tmp/benchrun/certs/ecdsa.chain.pem", "PEM certificate chain")
	keyFile := flag.String("key", "/tmp/benchrun/certs/ecdsa.key", "PEM private key")
	mode := flag.String("mode", "raw", "raw | parsers")
	flag.Parse()
	log.SetFlags(log.LstdFlags)

	switch *mode {
	case "raw":
		rawMode = true
	case "parsers":
	default:
		log.Fatalf("unknown -mode %q (want raw or parsers)", *mode)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("h1ceiling: mode=%s listen=%s backend=%s", *mode, *listen, backendAddr)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			logOnce("accept", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go serve(nc, cfg)
	}
}
