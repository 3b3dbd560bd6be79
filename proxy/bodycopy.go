package proxy

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"tlsfront/wire"
)

// bodyCopier copies a request body to the backend on a goroutine of its
// own while the request's goroutine reads the response: a backend may
// answer before it has read the body (401, 413, 417) and must not have to
// wait for a slow client to be heard. A body of known length goes as it
// is; one of unknown length (HTTP/1.1 chunked, HTTP/2 without
// content-length) is re-chunked by tlsfront: sizes, extensions and
// trailers are never the client's.
type bodyCopier struct {
	done      chan struct{}
	clientErr error // the client's body failed (timeout, malformed, too large, gone)
	writeErr  error // the backend stopped taking it
	sent      bool  // the whole body reached the backend
	stopped   atomic.Bool
	// clientEOF: the client's body was read to its end, so the client's
	// connection is in step whatever becomes of the backend's copy.
	clientEOF atomic.Bool
}

// backendWriteTimeout bounds each write of a request body to the backend
// (nginx's proxy_send_timeout default): a backend that takes nothing for
// that long is given up on.
const backendWriteTimeout = 60 * time.Second

// chunkReserve is the room kept before the data in the copy buffer for a
// chunk's size line, so that a chunk is one write.
const chunkReserve = 18

func (x *exchange) startCopier(length int64) {
	c := &bodyCopier{done: make(chan struct{})}
	x.copier = c
	bc := x.bc
	go func() {
		defer close(c.done)
		buf := getBuffer()
		defer putBuffer(buf)
		c.copy(&x.body, bc, *buf, length)
		if c.sent {
			x.bodySent(bc)
		}
	}()
}

func (c *bodyCopier) copy(body *limitedBody, bc *backendConn, buf []byte, length int64) {
	chunked := length < 0
	var total int64
	for {
		data := buf[chunkReserve : len(buf)-2]
		if !chunked && int64(len(data)) > length-total {
			data = data[:length-total+1] // one byte more shows a body longer than declared
		}
		n, err := body.Read(data)
		if err == io.EOF {
			c.clientEOF.Store(true)
		}
		if n > 0 {
			total += int64(n)
			if !chunked && total > length {
				c.fail(wire.ErrContentLength, bc)
				return
			}
			out := data[:n]
			if chunked {
				var tmp [chunkReserve]byte
				size := wire.AppendChunkHeader(tmp[:0], n)
				start := chunkReserve - len(size)
				copy(buf[start:], size)
				out = append(buf[start:chunkReserve+n], '\r', '\n')
			}
			_ = bc.conn.SetWriteDeadline(time.Now().Add(backendWriteTimeout))
			if _, werr := bc.conn.Write(out); werr != nil {
				c.writeErr = werr
				return
			}
		}
		if err == io.EOF {
			switch {
			case chunked:
				if _, werr := bc.conn.Write([]byte("0\r\n\r\n")); werr != nil {
					c.writeErr = werr
					return
				}
			case total < length:
				c.fail(io.ErrUnexpectedEOF, bc)
				return
			}
			c.sent = true
			return
		}
		if err != nil {
			c.fail(err, bc)
			return
		}
	}
}

// fail records the client's body failing and aborts the backend's
// request: the connection is closed, so the backend sees a request cut
// short, never a shorter one, and the response read waiting on it ends.
func (c *bodyCopier) fail(err error, bc *backendConn) {
	if c.stopped.Load() {
		return // stopped on purpose: the Read failed because of that
	}
	var werr *wire.Error
	switch {
	case errors.Is(err, ErrBodyTimeout), errors.Is(err, errBodyTooLarge), errors.As(err, &werr):
		c.clientErr = err
	default:
		c.clientErr = errClientGone
	}
	bc.conn.Close()
}

// stopCopier ends the copier and waits for it: when the backend failed, or
// answered before the body's end. The client's pending Read is
// interrupted and the backend's connection closed (it cannot be reused
// with the body half sent).
func (x *exchange) stopCopier() {
	c := x.copier
	select {
	case <-c.done:
		return
	default:
	}
	c.stopped.Store(true)
	if i, ok := x.r.Body.(interrupter); ok {
		i.Interrupt()
	}
	x.bc.conn.Close()
	<-c.done
}
