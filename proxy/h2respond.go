package proxy

// The response side of an HTTP/2 stream: h2stream is the H2ResponseWriter
// its handler writes to. Frames go straight into the connection's buffer
// (no hop to another goroutine); the writer sends them at the next Flush,
// at End, or once a TLS record's worth is waiting.

import (
	"errors"

	"golang.org/x/net/http2"
)

var (
	errH2HeadTwice  = errors.New("http2: response head written twice")
	errH2NoHead     = errors.New("http2: response body or end before the head")
	errH2BadStatus  = errors.New("http2: invalid response status")
	errH2WriteAfter = errors.New("http2: write after the response ended")
)

func (st *h2stream) WriteHead(status int, fields []H2Field, end bool) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case st.closed || c.closing:
		return errH2StreamClosed
	case st.headSent:
		return errH2HeadTwice
	case status < 100 || status > 999 || status == 101: // no 101 in HTTP/2 (RFC 9113 §8.6)
		return errH2BadStatus
	}
	if status < 200 {
		c.appendHeaders(st.id, status, fields, false)
		c.signalLocked()
		return nil
	}
	st.headSent = true
	if status == 204 || status == 304 {
		st.noBody = true
	}
	end = end || st.noBody
	c.appendHeaders(st.id, status, fields, end)
	if end {
		st.endLocked()
	}
	return nil
}

func (st *h2stream) Write(p []byte) (int, error) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !st.headSent && !st.closed {
		return 0, errH2NoHead
	}
	if st.noBody && !st.closed {
		return len(p), nil // HEAD, 204, 304: the body is not sent
	}
	total := 0
	for len(p) > 0 {
		switch {
		case st.closed || c.closing:
			return total, errH2StreamClosed
		case st.localDone:
			return total, errH2WriteAfter
		}
		room := min(st.sendWindow, c.sendWindow, int64(outHigh-len(c.out)))
		if room <= 0 {
			if !st.waitLocked() {
				c.srv.opts.Logger.Debug().Str("client", remoteString(c.info.RemoteAddr)).Str("path", st.req.Path).
					Msg("http2: client took no response data within proxy.send_timeout: stream reset")
				c.resetLocked(st, http2.ErrCodeInternal)
				return total, errH2SendTimeout
			}
			continue
		}
		n := int(min(room, int64(len(p))))
		st.sendWindow -= int64(n)
		c.sendWindow -= int64(n)
		st.unreturned += int64(n)
		c.unreturned += int64(n)
		for chunk := p[:n]; len(chunk) > 0; {
			m := min(len(chunk), c.peerFrame)
			st.lastData, st.lastGen = len(c.out), c.outGen
			c.appendFrame(http2.FrameData, 0, st.id, chunk[:m])
			chunk = chunk[m:]
		}
		p = p[n:]
		total += n
		if len(c.out) >= outFlush {
			c.signalLocked()
		}
	}
	return total, nil
}

// waitLocked waits for flow-control window or buffer room, up to the send
// timeout; it reports false on timeout. What is buffered is sent first:
// the client cannot return window for data it has not seen.
func (st *h2stream) waitLocked() bool {
	c := st.c
	c.signalLocked()
	if st.wwake == nil {
		st.wwake = make(chan struct{}, 1)
	}
	if !st.waiting {
		st.waiting = true
		c.waiters = append(c.waiters, st)
	}
	c.mu.Unlock()
	ok := wait(st.wwake, &st.wtimer, c.srv.opts.SendTimeout)
	c.mu.Lock()
	return ok
}

func (st *h2stream) Flush() error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.closed {
		return errH2StreamClosed
	}
	c.signalLocked()
	return nil
}

func (st *h2stream) End(trailers []H2Field) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case st.closed || c.closing:
		return errH2StreamClosed
	case !st.headSent:
		return errH2NoHead
	case st.localDone:
		return nil // ended with the head already
	}
	switch {
	case len(trailers) > 0 && !st.noBody:
		c.appendHeaders(st.id, 0, trailers, true)
	case st.lastData >= 0 && st.lastGen == c.outGen:
		// The last DATA frame is still in the buffer: it carries
		// END_STREAM, no empty frame needed.
		c.out[st.lastData+4] |= byte(http2.FlagDataEndStream)
	default:
		c.appendFrame(http2.FrameData, http2.FlagDataEndStream, st.id, nil)
	}
	st.endLocked()
	return nil
}

// endLocked notes that our side of the stream ended and has the writer send
// it.
func (st *h2stream) endLocked() {
	st.localDone = true
	st.c.signalLocked()
	if st.remoteDone {
		st.c.closeStreamLocked(st)
	}
}

func (st *h2stream) Abort() {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked(st, http2.ErrCodeInternal)
}

// finish runs when the handler returned: a response without head is reset,
// one without end is ended, and a client still sending is told to stop
// (RST_STREAM NO_ERROR, RFC 9113 §8.1).
func (st *h2stream) finish() {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st.body.done = true
	if st.closed {
		return
	}
	switch {
	case !st.headSent:
		c.resetLocked(st, http2.ErrCodeInternal)
		return
	case !st.localDone:
		if st.lastData >= 0 && st.lastGen == c.outGen {
			c.out[st.lastData+4] |= byte(http2.FlagDataEndStream)
		} else {
			c.appendFrame(http2.FrameData, http2.FlagDataEndStream, st.id, nil)
		}
		st.endLocked()
	}
	if !st.closed {
		c.resetLocked(st, http2.ErrCodeNo)
	}
}
