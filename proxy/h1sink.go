package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"tlsfront/wire"
)

// The HTTP/1.1 connection as the request path's ResponseSink. Writes go
// to a pooled buffer and leave in as few TLS records as the path's
// flushes allow: a small response is one write.

func (c *h1conn) resetSink() {
	c.olen, c.final, c.headSent, c.chunked, c.bodiless, c.closeAfter = 0, false, false, false, false, false
	c.aborted, c.upgraded, c.werr, c.sendTO, c.bodyTO = false, false, nil, 0, 0
	c.armedW = time.Time{}
}

// endResponse sends what is left of the response and gives the write
// buffer back.
func (c *h1conn) endResponse() {
	if !c.aborted {
		_ = c.Flush()
	}
	c.releaseOut()
}

func (c *h1conn) releaseOut() {
	if c.out != nil {
		putBuffer(c.out)
		c.out, c.olen = nil, 0
	}
}

func (c *h1conn) SetTimeouts(send, body time.Duration) { c.sendTO, c.bodyTO = send, body }

func (c *h1conn) CloseAfter() { c.closeAfter = true }

func (c *h1conn) Abort() { c.aborted = true }

// minor is the HTTP minor version of the request being answered.
func (c *h1conn) minor() int {
	if c.rq == nil {
		return 1
	}
	return c.rq.wreq.Minor
}

func (c *h1conn) Inform(status int, fields []wire.Field) error {
	if c.minor() == 0 || status == 100 || status == 101 {
		return nil // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client
	}
	c.putHead(func(dst []byte) []byte { return wire.AppendInformational(dst, status, fields) })
	return c.Flush()
}

func (c *h1conn) WriteHead(status int, reason string, fields []wire.Field, length int64) error {
	if c.werr != nil {
		return c.werr
	}
	if c.e.draining.Load() {
		c.closeAfter = true
	}
	c.final = true // first: a head longer than the buffer is flushed as it goes
	bodiless := c.bodiless || status == 204 || status == 304 || status < 200
	h := wire.ResponseHead{Status: status, Reason: reason, Date: httpDate(), Fields: fields, ContentLength: -1}
	switch {
	case bodiless:
		if length >= 0 && status != 204 && status >= 200 {
			h.ContentLength = length // what a HEAD's or a 304's body would be
		}
	case length >= 0:
		h.ContentLength = length
	case c.minor() == 1:
		c.chunked, h.Chunked = true, true
	default:
		c.closeAfter = true // an HTTP/1.0 client reads to the close
	}
	c.bodiless = bodiless
	h.Close, h.KeepAlive = c.closeAfter, !c.closeAfter && c.minor() == 0
	c.putHead(h.Append)
	return nil
}

// putHead appends a head built by appendHead to the write buffer; a head
// that does not fit in it is written at once, with what was buffered.
func (c *h1conn) putHead(appendHead func([]byte) []byte) {
	c.ensureOut()
	b := appendHead((*c.out)[:c.olen])
	if cap(b) == bufSize && &b[:1][0] == &(*c.out)[0] {
		c.olen = len(b)
		return
	}
	c.olen = 0 // grown past the pooled buffer: b holds it all
	c.writeOut(b)
}

func (c *h1conn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	if c.bodiless {
		return len(p), nil
	}
	n := len(p)
	for len(p) > 0 {
		room := bufSize - c.olen
		if c.chunked {
			room -= 20 // size line and CRLF
		}
		if room <= 0 {
			if err := c.Flush(); err != nil {
				return n - len(p), err
			}
			continue
		}
		k := min(room, len(p))
		if c.chunked {
			var tmp [chunkReserve]byte
			c.appendBytes(wire.AppendChunkHeader(tmp[:0], k))
			c.appendBytes(p[:k])
			c.appendString("\r\n")
		} else {
			c.appendBytes(p[:k])
		}
		p = p[k:]
	}
	return n, nil
}

// Finish ends the response; what is buffered leaves when the engine ends
// the request (after the path's access-log entry).
func (c *h1conn) Finish(trailers []wire.Field) error {
	if c.werr != nil {
		return c.werr
	}
	if c.chunked {
		c.appendString("0\r\n")
		for _, f := range trailers {
			c.appendString(f.Name)
			c.appendString(": ")
			c.appendString(f.Value)
			c.appendString("\r\n")
		}
		c.appendString("\r\n")
	}
	return c.werr
}

// Flush writes the buffer to the client, each write bounded by the send
// timeout (armed again only once a quarter of it has passed).
func (c *h1conn) Flush() error {
	if c.werr != nil {
		return c.werr
	}
	if c.olen == 0 {
		return nil
	}
	err := c.writeOut((*c.out)[:c.olen])
	c.olen = 0
	return err
}

// writeOut writes b to the client within the send timeout.
func (c *h1conn) writeOut(b []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if c.sendTO > 0 {
		if now := time.Now(); now.Sub(c.armedW) > c.sendTO/4 {
			_ = c.tc.SetWriteDeadline(now.Add(c.sendTO))
			c.armedW = now
		}
	}
	c.wmu.Lock()
	if c.final {
		c.headSent = true
	}
	_, err := c.tc.Write(b)
	c.wmu.Unlock()
	if err != nil {
		c.werr = err
		c.aborted = true
	}
	return err
}

func (c *h1conn) appendString(s string) {
	for len(s) > 0 {
		c.ensureOut()
		k := copy((*c.out)[c.olen:], s)
		c.olen += k
		s = s[k:]
		if len(s) > 0 && c.Flush() != nil {
			return
		}
	}
}

func (c *h1conn) appendBytes(b []byte) {
	for len(b) > 0 {
		c.ensureOut()
		k := copy((*c.out)[c.olen:], b)
		c.olen += k
		b = b[k:]
		if len(b) > 0 && c.Flush() != nil {
			return
		}
	}
}

func (c *h1conn) ensureOut() {
	if c.out == nil {
		c.out = getBuffer()
		c.olen = 0
	}
}

// Upgrade sends the 101 head and returns the connection for the tunnel.
func (c *h1conn) Upgrade(fields []wire.Field) (io.ReadWriteCloser, error) {
	c.final = true
	h := wire.ResponseHead{Status: 101, Date: httpDate(), Fields: fields, ContentLength: -1}
	c.putHead(h.Append)
	if err := c.Flush(); err != nil {
		return nil, err
	}
	c.upgraded = true
	_ = c.tc.SetDeadline(time.Time{})
	return &h1tunnel{c: c}, nil
}

// h1tunnel is the client side of an upgraded connection: bytes the client
// sent after its handshake request first.
type h1tunnel struct{ c *h1conn }

func (t *h1tunnel) Read(p []byte) (int, error) {
	c := t.c
	if c.rbuf != nil && c.r < c.w {
		n := copy(p, (*c.rbuf)[c.r:c.w])
		c.r += n
		return n, nil
	}
	return c.tc.Read(p)
}

func (t *h1tunnel) Write(p []byte) (int, error) { return t.c.tc.Write(p) }

func (t *h1tunnel) Close() error { return t.c.tc.Close() }

// Watch notices the client leaving while the path waits on the backend:
// a read on the connection, into the read buffer's free space, which
// ends when the client closes (gone is called) or when Unwatch interrupts
// it. Bytes it reads (a pipelined request) stay buffered.
func (c *h1conn) Watch(gone func()) {
	w := &h1watch{done: make(chan struct{})}
	c.watch = w
	if c.rbuf == nil {
		c.takeRequest()
	}
	c.makeRoom(2 * bufSize)
	buf := (*c.rbuf)[c.w:]
	_ = c.tc.SetReadDeadline(time.Time{})
	go func() {
		defer close(w.done)
		n, err := c.tc.Read(buf)
		w.n = n
		if n == 0 && err != nil && !w.stopping.Load() {
			w.gone = true
			gone()
		}
	}()
}

type h1watch struct {
	done     chan struct{}
	stopping atomic.Bool
	n        int
	gone     bool
}

func (c *h1conn) Unwatch() bool {
	w := c.watch
	if w == nil {
		return false
	}
	c.watch = nil
	w.stopping.Store(true)
	_ = c.tc.SetReadDeadline(time.Unix(1, 0))
	<-w.done
	c.w += w.n
	return w.gone
}

// h1body is a request body read from the connection: Content-Length bytes,
// or a chunked body decoded (its trailers are read and dropped). Each read
// from the socket waits at most the body timeout.
type h1body struct {
	c        *h1conn
	left     int64 // Content-Length bytes still to come
	chunked  bool
	dec      wire.ChunkedDecoder
	expect   bool // send 100 Continue before the first read
	done     bool
	err      error
	stopping atomic.Bool
}

var errBodyTimedOut = fmt.Errorf("%w (HTTP/1.1)", ErrBodyTimeout)

// unread reports whether body bytes may still be coming.
func (b *h1body) unread() bool { return !b.done && b.c != nil }

func (b *h1body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if b.expect {
		b.expect = false
		b.sendContinue()
	}
	n, err := b.read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *h1body) read(p []byte) (int, error) {
	c := b.c
	if !b.chunked {
		if c.r == c.w {
			if err := b.fill(); err != nil {
				return 0, err
			}
		}
		k := min(int64(c.w-c.r), b.left, int64(len(p)))
		copy(p, (*c.rbuf)[c.r:c.r+int(k)])
		c.r += int(k)
		b.left -= k
		if b.left == 0 {
			b.done = true
			return int(k), io.EOF
		}
		return int(k), nil
	}
	for {
		n, data, err := b.dec.Decode((*c.rbuf)[c.r:c.w])
		if err != nil {
			return 0, err
		}
		if len(data) > 0 {
			k := copy(p, data)
			c.r += (n - len(data)) + k
			if k < len(data) {
				// The rest of the data is decoded again by the next Read.
				b.dec.Unread(len(data) - k)
			}
			return k, nil
		}
		c.r += n
		if b.dec.Done() {
			b.done = true
			return 0, io.EOF
		}
		if n == 0 {
			if err := b.fill(); err != nil {
				return 0, err
			}
		}
	}
}

// fill reads more body bytes from the client within the body timeout.
func (b *h1body) fill() error {
	c := b.c
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	c.makeRoom(2 * bufSize)
	if c.bodyTO > 0 {
		_ = c.tc.SetReadDeadline(time.Now().Add(c.bodyTO))
	} else {
		_ = c.tc.SetReadDeadline(time.Time{})
	}
	n, err := c.tc.Read((*c.rbuf)[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	switch {
	case b.stopping.Load():
		return errors.New("body read interrupted")
	case isTimeout(err):
		return errBodyTimedOut
	case err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// sendContinue writes 100 Continue, unless the final response head went
// first (the backend answered without wanting the body).
func (b *h1body) sendContinue() {
	c := b.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.headSent {
		return
	}
	_, _ = c.tc.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
}

// Interrupt ends a pending Read (the path stops copying the body).
func (b *h1body) Interrupt() {
	b.stopping.Store(true)
	_ = b.c.tc.SetReadDeadline(time.Unix(1, 0))
}

// httpDate is the Date value of the current second, formatted once a
// second.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &cachedDate{sec: sec, b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}

type cachedDate struct {
	sec int64
	b   []byte
}

var dateCache atomic.Pointer[cachedDate]
