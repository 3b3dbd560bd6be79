package proxy

// HTTP/2 header blocks: HEADERS and CONTINUATION frames are decoded here
// as they arrive (no CONTINUATION is buffered whole), each field checked
// by the rules of RFC 9113 §8.2-8.3, and a complete block becomes a new
// request or a stream's trailers. The response side encodes heads and
// trailers.

import (
	"strconv"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tlsfront/wire"
)

// h2block is the header block being decoded.
type h2block struct {
	id       uint32
	end      bool // the HEADERS frame carried END_STREAM
	selfDep  bool // it declared a dependency on itself
	frags    int  // frames so far
	bytes    int  // encoded bytes so far
	size     int  // decoded header list size (RFC 9113 §6.5.2)
	tooLarge bool
	bad      string // why the block is malformed; the first reason found
	pseudo   uint8  // pseudo-headers seen
	regular  bool   // a regular field was seen
	method   string
	scheme   string
	auth     string
	path     string
	host     string
	cl       int64 // content-length; -1 when absent
	cookies  int
	te       bool      // "te: trailers" was sent
	fields   []H2Field // scratch, reused
}

const (
	pMethod uint8 = 1 << iota
	pScheme
	pAuthority
	pPath
	pAny
)

func (c *h2conn) onHeaders(f *http2.HeadersFrame) error {
	if f.StreamID%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // clients use odd stream IDs
	}
	b := &c.blk
	b.id, b.end = f.StreamID, f.StreamEnded()
	b.selfDep = f.HasPriority() && f.Priority.StreamDep == f.StreamID
	b.frags, b.bytes, b.size, b.tooLarge, b.bad = 0, 0, 0, false, ""
	b.pseudo, b.regular, b.cookies, b.cl, b.te = 0, false, 0, -1, false
	b.method, b.scheme, b.auth, b.path, b.host = "", "", "", "", ""
	b.fields = b.fields[:0]
	c.dec.SetEmitEnabled(true)
	return c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// onContinuation continues the block: the Framer has checked that it
// follows a HEADERS or CONTINUATION frame of the same stream.
func (c *h2conn) onContinuation(f *http2.ContinuationFrame) error {
	return c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

func (c *h2conn) blockFragment(p []byte, end bool) error {
	b := &c.blk
	b.frags++
	b.bytes += len(p)
	if b.bytes > 2*c.maxList || b.frags > maxHeaderFrags {
		// Far past what the decoded list may hold, or a CONTINUATION flood
		// (CVE-2024-27316 class): stop reading it.
		return c.calm("header block too large or too fragmented")
	}
	if b.frags > 4 && b.frags%16 == 0 && b.frags > b.bytes/1024 {
		// HAProxy's rule: more than 4 fragments of under 1 KiB on average
		// cost a glitch per 16 fragments.
		c.mu.Lock()
		c.glitchLocked(1, "many small CONTINUATION frames")
		c.mu.Unlock()
	}
	if _, err := c.dec.Write(p); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if !end {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	return c.blockDone()
}

// calm closes the connection with ENHANCE_YOUR_CALM, counted as a glitch
// close.
func (c *h2conn) calm(why string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeForGlitchesLocked(why)
	return nil
}

// onField is the HPACK decoder's emit function: one decoded field.
func (c *h2conn) onField(hf hpack.HeaderField) {
	b := &c.blk
	b.size += int(hf.Size())
	if b.size > c.maxList {
		// An oversized list or an HPACK bomb (a large table entry named
		// over and over): keep decoding for the table, emit nothing more.
		b.tooLarge = true
		c.dec.SetEmitEnabled(false)
		return
	}
	if b.bad != "" {
		return
	}
	name, v := hf.Name, hf.Value
	if !validFieldValue(v) {
		b.bad = "invalid value in field " + strconv.Quote(name)
		return
	}
	if strings.HasPrefix(name, ":") {
		if b.regular {
			b.bad = "pseudo-header after a regular field"
			return
		}
		var bit uint8
		var dst *string
		switch name {
		case ":method":
			bit, dst = pMethod, &b.method
		case ":scheme":
			bit, dst = pScheme, &b.scheme
		case ":authority":
			bit, dst = pAuthority, &b.auth
		case ":path":
			bit, dst = pPath, &b.path
		default: // :status, and :protocol (extended CONNECT is not offered)
			b.bad = "pseudo-header " + strconv.Quote(name) + " not allowed in a request"
			return
		}
		if b.pseudo&bit != 0 {
			b.bad = "duplicate " + name
			return
		}
		b.pseudo |= bit | pAny
		*dst = v
		return
	}
	b.regular = true
	if !validFieldName(name) {
		b.bad = "invalid field name " + strconv.Quote(name)
		return
	}
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		b.bad = "connection-specific field " + name // RFC 9113 §8.2.2
		return
	case "te":
		if !strings.EqualFold(v, "trailers") {
			b.bad = `te other than "trailers"`
		}
		b.te = true
		return // hop-by-hop: not passed on (H2Request.TETrailers)
	case "host":
		if b.host != "" {
			b.bad = "two host fields"
		}
		b.host = v
		return
	case "content-length":
		n, ok := parseContentLength(v)
		if !ok || b.cl >= 0 {
			b.bad = "invalid or repeated content-length"
			return
		}
		b.cl = n
		return
	case "cookie":
		b.cookies++
	}
	b.fields = append(b.fields, H2Field{Name: name, Value: v})
}

// blockDone acts on a complete header block: trailers of an open stream,
// a new request, or a connection error for a closed stream.
func (c *h2conn) blockDone() error {
	b := &c.blk
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil
	}
	if st := c.streams[b.id]; st != nil {
		return c.trailersLocked(st)
	}
	if b.id <= c.maxID {
		if c.resetLately(b.id) {
			return nil // trailers of a stream we reset: they crossed our RST_STREAM
		}
		return http2.ConnectionError(http2.ErrCodeStreamClosed) // RFC 9113 §5.1, "closed"
	}
	c.maxID = b.id
	if c.goAway && b.id > c.goAwayID {
		// Past the last stream our GOAWAY named: ignored (RFC 9113 §6.8).
		// A client keeps doing that only on purpose.
		c.glitchLocked(1, "stream opened after GOAWAY")
		return nil
	}
	if b.selfDep {
		return http2.StreamError{StreamID: b.id, Code: http2.ErrCodeProtocol}
	}
	req := H2Request{ContentLength: b.cl}
	if why := b.checkRequest(&req); why != "" {
		c.srv.opts.Logger.Debug().Str("client", remoteString(c.info.RemoteAddr)).Str("reason", why).
			Msg("http2: malformed request: stream reset")
		return http2.StreamError{StreamID: b.id, Code: http2.ErrCodeProtocol}
	}
	if c.open >= c.maxStreams {
		c.glitchLocked(1, "HEADERS past max_concurrent_streams")
		c.resetIDLocked(b.id, http2.ErrCodeRefusedStream)
		return nil
	}
	if b.tooLarge {
		c.glitchLocked(1, "header list larger than server.max_header_bytes")
		req.Refuse, req.Reason = 431, "The request's header fields are too large."
	}
	c.ctrl = 0
	c.startStreamLocked(b.id, req, b.end)
	return nil
}

// checkRequest fills req from the block, or returns why the request is
// malformed (RFC 9113 §8.1.1: a stream error). Requests that are
// well-formed but refused get req.Refuse.
func (b *h2block) checkRequest(req *H2Request) string {
	switch {
	case b.bad != "":
		return b.bad
	case b.pseudo&pMethod == 0:
		return "no :method"
	case !validToken(b.method):
		return "invalid :method"
	}
	req.Method, req.TETrailers = b.method, b.te
	auth := b.auth
	if b.pseudo&pAuthority == 0 {
		auth = b.host
	} else if b.host != "" && b.host != b.auth {
		return "host differs from :authority" // RFC 9113 §8.3.1
	}
	if b.method == "CONNECT" {
		if b.pseudo&(pScheme|pPath) != 0 || auth == "" {
			return "malformed CONNECT"
		}
		req.Refuse, req.Reason = 405, "CONNECT is not forwarded."
		return ""
	}
	if b.pseudo&pScheme == 0 || b.pseudo&pPath == 0 || b.path == "" {
		return "no :scheme or :path"
	}
	if b.end && b.cl > 0 {
		return "content-length without a body"
	}
	if b.cl >= 0 && !b.end {
		req.ContentLength = b.cl
	} else if !b.end {
		req.ContentLength = -1
	} else {
		req.ContentLength = 0
	}
	if !b.tooLarge {
		req.Fields = b.requestFields()
	}
	host, port, ok := wire.ParseAuthority(auth)
	switch {
	case b.scheme != "https":
		req.Refuse, req.Reason = 400, "The request's scheme is not https."
	case !ok:
		req.Refuse, req.Reason = 400, "The request's authority (host) is missing or invalid."
	case !wire.ValidOriginTarget(b.path):
		req.Refuse, req.Reason = 400, "The request's path is not a valid origin-form target."
	default:
		req.Authority, req.Host, req.Port, req.Path = auth, host, port, b.path
	}
	return ""
}

// requestFields returns a copy of the fields, cookie crumbs joined.
func (b *h2block) requestFields() []H2Field {
	n := len(b.fields)
	if b.cookies > 1 {
		n -= b.cookies - 1
	}
	out := make([]H2Field, 0, n)
	if b.cookies <= 1 {
		return append(out, b.fields...)
	}
	first := -1
	var sb strings.Builder
	for _, f := range b.fields {
		if f.Name != "cookie" {
			out = append(out, f)
			continue
		}
		if first < 0 {
			first = len(out)
			out = append(out, f)
		} else {
			sb.WriteString("; ")
		}
		sb.WriteString(f.Value)
	}
	out[first].Value = sb.String()
	return out
}

// trailersLocked handles a header block on an open stream: its trailers.
func (c *h2conn) trailersLocked(st *h2stream) error {
	b := &c.blk
	switch {
	case st.remoteDone:
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeStreamClosed}
	case !b.end || b.pseudo != 0 || b.bad != "" || b.tooLarge || b.host != "" || b.cl >= 0:
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	if len(b.fields) > 0 {
		st.body.trailers = b.requestFields()
	}
	return c.endOfBodyLocked(st)
}

// parseContentLength parses a content-length value: digits only.
func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// validFieldName reports whether s is a lowercase token (RFC 9110 §5.1,
// RFC 9113 §8.2.1).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isTchar(c) || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validFieldValue reports whether v may be a field value: no control bytes
// but HTAB (NUL, CR and LF are what RFC 9113 §8.2.1 names; the others no
// HTTP/1.1 reader accepts either), no whitespace at either end.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return v == "" || v[0] != ' ' && v[0] != '\t' && v[len(v)-1] != ' ' && v[len(v)-1] != '\t'
}

// appendHeaders queues a HEADERS frame (and CONTINUATION frames past the
// client's frame size) with status (0 for trailers) and fields.
func (c *h2conn) appendHeaders(id uint32, status int, fields []H2Field, end bool) {
	c.hbuf.Reset()
	if status > 0 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusCode(status)})
	}
	for _, f := range fields {
		name := lowerName(f.Name)
		switch name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host":
			continue // never in an HTTP/2 response (RFC 9113 §8.2.2)
		}
		if !validFieldName(name) || !validFieldValue(f.Value) {
			continue
		}
		_ = c.enc.WriteField(hpack.HeaderField{Name: name, Value: f.Value})
	}
	block := c.hbuf.Bytes()
	typ, flags := http2.FrameHeaders, http2.Flags(0)
	if end {
		flags = http2.FlagHeadersEndStream
	}
	for {
		n := min(len(block), c.peerFrame)
		fl := flags
		if n == len(block) {
			fl |= http2.FlagHeadersEndHeaders
		}
		c.appendFrame(typ, fl, id, block[:n])
		block = block[n:]
		if len(block) == 0 {
			return
		}
		typ, flags = http2.FrameContinuation, 0
	}
}

// lowerName lowercases an ASCII field name, without allocating when it is
// lowercase already.
func lowerName(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

var statusCodes = func() map[int]string {
	m := map[int]string{}
	for _, s := range []int{100, 103, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
		400, 401, 403, 404, 405, 408, 409, 410, 412, 413, 416, 421, 429, 431,
		500, 501, 502, 503, 504} {
		m[s] = strconv.Itoa(s)
	}
	return m
}()

func statusCode(s int) string {
	if v, ok := statusCodes[s]; ok {
		return v
	}
	return strconv.Itoa(s)
}
