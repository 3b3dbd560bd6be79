package proxy

// HTTP/2 streams: their life (open, half-closed, closed), the worker that
// runs the handler, the request body (DATA frames buffered up to the
// stream's window) and its flow control towards the client.

import (
	"context"
	"io"
	"strings"
	"time"

	"golang.org/x/net/http2"
)

type h2stream struct {
	c    *h2conn
	id   uint32
	req  H2Request
	body H2Body

	// Guarded by c.mu.
	remoteDone bool // the client ended its side (END_STREAM or RST_STREAM)
	localDone  bool // we ended ours (END_STREAM or RST_STREAM)
	closed     bool // gone from the connection; the context is done
	assigned   bool // a worker goroutine is on its way to run the handler
	running    bool // the handler started
	headSent   bool // the final response head is queued
	noBody     bool // the response has no body (HEAD, 204, 304)
	sent100    bool // 100 Continue was queued
	sendWindow int64
	unreturned int64  // DATA bytes sent that the client has not returned by WINDOW_UPDATE
	recvAvail  int32  // window the client may still use on this stream
	unsent     int32  // consumed by the handler, not yet returned by WINDOW_UPDATE
	lastData   int    // offset in c.out of the stream's last DATA frame, if lastGen is c.outGen
	lastGen    uint64 //
	waiting    bool   // in c.waiters
	done       chan struct{}
	wwake      chan struct{} // a writer waiting for window or buffer room
	wtimer     *time.Timer
}

// H2Body is a request body: the DATA the client sent, read by the
// handler. Reads return io.EOF at END_STREAM, ErrH2BodyTimeout after
// H2Options.BodyTimeout without data, another error when the stream is
// gone. Reads are what return flow-control window to the client.
type H2Body struct {
	st *h2stream

	// Guarded by st.c.mu.
	buf          []byte
	off          int
	eof          bool
	err          error
	done         bool // the handler returned: DATA is discarded
	received     int64
	trailers     []H2Field
	needContinue bool
	rwake        chan struct{}
	rtimer       *time.Timer
}

// startStreamLocked opens stream id for req and hands it to a worker.
func (c *h2conn) startStreamLocked(id uint32, req H2Request, end bool) {
	st := &h2stream{c: c, id: id, req: req, remoteDone: end, lastData: -1,
		sendWindow: int64(c.peerWindow), recvAvail: c.srv.opts.StreamWindow}
	st.req.st, st.req.Conn, st.req.StreamID = st, &c.info, id
	st.body.st = st
	if !end {
		st.body.rwake = make(chan struct{}, 1)
		st.req.Body = &st.body
		for _, f := range st.req.Fields {
			if f.Name == "expect" && strings.EqualFold(f.Value, "100-continue") {
				st.body.needContinue = true
			}
		}
	}
	if st.req.Method == "HEAD" {
		st.noBody = true
	}
	c.streams[id] = st
	c.open++
	if !c.started || c.open == 1 {
		c.started = true
		_ = c.nc.SetReadDeadline(time.Time{}) // no idle or read-header timeout while streams are open
	}
	c.srv.count.streams.Add(1)
	if c.workers < c.maxStreams {
		c.workers++
		st.assigned = true
		c.srv.workers.start(st)
		return
	}
	// Every worker is busy although at most maxStreams streams are open:
	// streams were reset while their handlers run. Queue the stream (a
	// reset one is dropped before its handler starts, never reaching the
	// backend); a long queue is rapid reset (CVE-2023-44487).
	c.queue = append(c.queue, st)
	if len(c.queue) > c.maxStreams {
		c.closeForGlitchesLocked("streams reset faster than their handlers finish")
	}
}

// work runs the handler for st, then for queued streams, on a worker
// (h2workers) holding one of the connection's worker slots. A stream closed
// before its handler started (reset by the client) gave its worker slot
// back when it closed: its goroutine just ends, and the backend never sees
// the request.
func (c *h2conn) work(st *h2stream) {
	for st != nil && c.begin(st) {
		c.serveStream(st)
		st = c.next()
	}
}

func (c *h2conn) begin(st *h2stream) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st.running = !st.closed
	return st.running
}

// next hands the caller's worker slot to the next queued stream, or gives
// it back.
func (c *h2conn) next() *h2stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.dequeueLocked(); st != nil {
		return st
	}
	c.workers--
	return nil
}

func (c *h2conn) dequeueLocked() *h2stream {
	for len(c.queue) > 0 {
		st := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if !st.closed {
			st.assigned = true
			return st
		}
	}
	c.queue = nil
	return nil
}

func (c *h2conn) serveStream(st *h2stream) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.opts.Logger.Error().Interface("panic", p).Str("path", st.req.Path).Msg("http2: handler panicked: stream reset")
			st.Abort()
		}
		st.finish()
	}()
	c.srv.h.ServeH2(st, &st.req)
}

// closeStreamLocked removes st from the connection: its context is done,
// waiting reads and writes return, unread body bytes go back to the
// connection window.
func (c *h2conn) closeStreamLocked(st *h2stream) {
	if st.closed {
		return
	}
	st.closed = true
	delete(c.streams, st.id)
	c.open--
	c.noteOwedLocked(st)
	if st.assigned && !st.running { // its worker has not started it: take the slot back
		st.assigned = false
		if next := c.dequeueLocked(); next != nil {
			c.srv.workers.start(next)
		} else {
			c.workers--
		}
	}
	if st.done != nil {
		close(st.done)
	}
	wakeup(st.wwake)
	b := &st.body
	wakeup(b.rwake)
	if n := len(b.buf) - b.off; n > 0 {
		c.creditConnLocked(int32(n))
		b.eof, b.err = false, errH2StreamClosed // never a truncated body read as complete
	}
	b.buf, b.off = nil, 0
	if c.open == 0 && !c.closing && !c.dead {
		if c.goAway && c.maxID >= c.goAwayID && c.glitchGoAway {
			// After the glitch GOAWAY: a client that goes on reaches the
			// threshold within a second, one that stopped is closed then.
			_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
		} else if c.goAway && c.maxID >= c.goAwayID {
			c.shutdownLocked() // drained: no stream may come any more
		} else {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
		}
	}
}

// onData takes a DATA frame: flow control, content-length, the body.
func (c *h2conn) onData(f *http2.DataFrame) error {
	id, n := f.StreamID, int32(f.Length)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.recvAvail {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvAvail -= n
	st := c.streams[id]
	if st == nil || st.remoteDone {
		c.creditConnLocked(n) // never read: the connection window comes back now
		switch {
		case st == nil && id > c.maxID:
			return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream
		case st == nil && c.resetLately(id):
			return nil // sent before the client saw our RST_STREAM
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if n > st.recvAvail {
		c.creditConnLocked(n)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	st.recvAvail -= n
	data := f.Data()
	if pad := n - int32(len(data)); pad > 0 {
		c.creditConnLocked(pad)
		st.creditLocked(pad)
	}
	b := &st.body
	b.received += int64(len(data))
	if cl := st.req.ContentLength; cl >= 0 && b.received > cl {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // RFC 9113 §8.1.1
	}
	if len(data) == 0 && !f.StreamEnded() {
		c.glitchLocked(1, "empty DATA frame")
	}
	if b.done {
		c.creditConnLocked(int32(len(data)))
	} else if len(data) > 0 {
		b.buf = append(b.buf, data...)
		wakeup(b.rwake)
	}
	if f.StreamEnded() {
		return c.endOfBodyLocked(st)
	}
	return nil
}

// endOfBodyLocked handles END_STREAM from the client.
func (c *h2conn) endOfBodyLocked(st *h2stream) error {
	b := &st.body
	if cl := st.req.ContentLength; cl >= 0 && b.received != cl {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	st.remoteDone, b.eof = true, true
	wakeup(b.rwake)
	if st.localDone {
		c.closeStreamLocked(st)
	}
	return nil
}

// Read reads request body bytes.
func (b *H2Body) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for b.off == len(b.buf) {
		switch {
		case b.eof:
			return 0, io.EOF
		case b.err != nil:
			return 0, b.err
		case st.closed:
			return 0, errH2StreamClosed
		}
		if b.needContinue && !st.headSent && !st.sent100 {
			st.sent100 = true
			c.appendHeaders(st.id, 100, nil, false)
			c.signalLocked()
		}
		c.mu.Unlock()
		ok := wait(b.rwake, &b.rtimer, c.srv.opts.BodyTimeout)
		c.mu.Lock()
		if !ok && b.off == len(b.buf) && !b.eof && !st.closed {
			b.err = ErrH2BodyTimeout
		}
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	if b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
	}
	c.creditConnLocked(int32(n))
	st.creditLocked(int32(n))
	if b.off == len(b.buf) && b.eof {
		return n, io.EOF
	}
	return n, nil
}

// Trailers returns the request's trailer fields once Read has returned
// io.EOF; nil when there were none.
func (b *H2Body) Trailers() []H2Field {
	b.st.c.mu.Lock()
	defer b.st.c.mu.Unlock()
	if !b.eof {
		return nil
	}
	return b.trailers
}

// creditConnLocked returns n bytes of connection window to the client,
// in batches of half the window.
func (c *h2conn) creditConnLocked(n int32) {
	c.recvUnsent += n
	if c.recvUnsent >= c.srv.opts.ConnWindow/2 && !c.closing {
		c.appendWindowUpdate(0, uint32(c.recvUnsent))
		c.recvAvail += c.recvUnsent
		c.recvUnsent = 0
		c.signalLocked()
	}
}

// creditLocked returns n bytes of stream window to the client, in batches
// of half the window, while the client still sends on the stream.
func (st *h2stream) creditLocked(n int32) {
	c := st.c
	st.unsent += n
	if st.unsent >= c.srv.opts.StreamWindow/2 && !st.remoteDone && !c.closing {
		c.appendWindowUpdate(st.id, uint32(st.unsent))
		st.recvAvail += st.unsent
		st.unsent = 0
		c.signalLocked()
	}
}

// The stream is its request's context.

func (st *h2stream) Deadline() (time.Time, bool) { return time.Time{}, false }
func (st *h2stream) Value(any) any               { return nil }

func (st *h2stream) Done() <-chan struct{} {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.done == nil {
		st.done = make(chan struct{})
		if st.closed {
			close(st.done)
		}
	}
	return st.done
}

func (st *h2stream) Err() error {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.closed {
		return context.Canceled
	}
	return nil
}

// wakeup signals ch (capacity 1) without blocking; ch may be nil.
func wakeup(ch chan struct{}) {
	if ch == nil {
		return
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// wait waits for a signal on ch, up to d (zero: no limit); it reports
// false on timeout. *t is a timer kept for reuse.
func wait(ch chan struct{}, t **time.Timer, d time.Duration) bool {
	if d <= 0 {
		<-ch
		return true
	}
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-ch:
		(*t).Stop()
		return true
	case <-(*t).C:
		return false
	}
}
