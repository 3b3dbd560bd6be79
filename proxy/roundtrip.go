package proxy

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"tlsfront/wire"
)

// errHeaderTimeout is a backend that sent no response head within
// proxy.response_header_timeout (504).
var errHeaderTimeout error = timeoutError("backend did not send a response head within proxy.response_header_timeout")

type timeoutError string

func (e timeoutError) Error() string { return string(e) }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// errBackendResponse is a backend response tlsfront does not accept (502).
type errBackendResponse struct{ err error }

func (e errBackendResponse) Error() string { return "invalid backend response: " + e.err.Error() }
func (e errBackendResponse) Unwrap() error { return e.err }

var (
	errHeadTooLarge   = errors.New("backend response head over 1 MiB")
	errUnaskedUpgrade = errors.New("backend switched protocols on a request that asked for no upgrade")
)

// watchAfter is how long the path waits on the backend before it starts
// watching for the client leaving (an HTTP/1.1 engine does that with a
// read on the client's connection: not worth it for fast answers).
const watchAfter = 20 * time.Millisecond

// continueTimeout is how long a request with "Expect: 100-continue" waits
// for the backend's 100 (or final answer) before its body is sent anyway,
// as http.Transport's ExpectContinueTimeout did.
const continueTimeout = time.Second

// roundTrip sends the request to the backend and reads the response head
// into x.res, passing 1xx responses on. On a reused connection that the
// backend closed before answering, a request without a body and with an
// idempotent method is sent once more on a new connection.
func (x *exchange) roundTrip() error {
	pool := x.h.backend.pool(x.st.backend)
	var err error
	x.bc, x.reused, err = pool.acquire(x.queueGone())
	x.stopQueueWatch()
	if err != nil {
		return err
	}
	for retried := false; ; retried = true {
		n, err := x.tryOnce()
		if err == nil {
			return nil
		}
		if x.copier != nil {
			x.stopCopier()
			if cerr := x.copier.clientErr; cerr != nil {
				pool.drop(x.bc)
				x.bc = nil
				return cerr
			}
		}
		retry := !retried && x.reused && n == 0 && x.r.Body == nil && idempotent(x.r.Method) &&
			!isTimeout(err) && !errors.Is(err, errClientGone)
		if !retry {
			pool.drop(x.bc)
			x.bc = nil
			return err
		}
		if x.bc, err = pool.redial(x.bc); err != nil {
			x.bc = nil
			return err
		}
		x.reused = false
	}
}

func idempotent(method string) bool {
	return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// queueGone is called by the pool only when the request must wait for a
// connection: it starts watching for the client leaving.
func (x *exchange) queueGone() func() <-chan struct{} {
	return func() <-chan struct{} {
		gone := make(chan struct{})
		x.watching = true
		x.w.Watch(func() { close(gone) })
		return gone
	}
}

func (x *exchange) stopQueueWatch() {
	if x.watching {
		x.watching = false
		x.w.Unwatch()
	}
}

// tryOnce writes the request on x.bc and reads the response head. n is how
// many response bytes arrived (0: the backend said nothing).
func (x *exchange) tryOnce() (n int, err error) {
	bc, r := x.bc, x.r
	bc.takeBuffer()
	length := r.ContentLength
	if r.Body == nil {
		length = 0
	}
	x.head = wire.AppendRequestHead(x.head[:0], r.Method, r.Target, x.outboundHost(), x.out, length)
	start := time.Now()
	deadline := start.Add(x.h.opts.ResponseHeaderTimeout)
	_ = bc.conn.SetDeadline(deadline)
	x.sent = start
	if _, err := bc.conn.Write(x.head); err != nil {
		return 0, err
	}
	if r.Body != nil {
		if r.Expect == wire.ExpectContinue {
			// The backend's 100 (or its final answer) first; then the body.
			final, n, err := x.awaitContinue(start.Add(continueTimeout))
			if err != nil || final {
				x.e.Backend = time.Since(start)
				return n, err
			}
		}
		// As with http.Transport, response_header_timeout runs from the
		// body's end: a slow client's upload is bounded by
		// client_body_timeout, not by the backend's patience. The copier
		// sets the deadline when it is done; until then none.
		x.headMu.Lock()
		x.headRead = false
		_ = bc.conn.SetDeadline(time.Time{})
		x.headMu.Unlock()
		x.startCopier(length)
		deadline = time.Time{}
	}
	n, err = x.readFinalHead(deadline)
	x.e.Backend = time.Since(start)
	return n, err
}

// bodySent is called by the copier once the body is written whole: the
// response head is now awaited for at most response_header_timeout.
func (x *exchange) bodySent(bc *backendConn) {
	x.headMu.Lock()
	if !x.headRead {
		_ = bc.conn.SetReadDeadline(time.Now().Add(x.h.opts.ResponseHeaderTimeout))
	}
	x.headMu.Unlock()
}

// awaitContinue reads the backend's answer to an Expect: 100-continue
// request until wait: a 100 is consumed (final false: send the body), a
// final response is left parsed in x.res (final true: the body is not
// sent), nothing by wait means sending the body anyway. (As with
// http.Transport, response_header_timeout runs once the body is sent.)
func (x *exchange) awaitContinue(wait time.Time) (final bool, n int, err error) {
	bc := x.bc
	_ = bc.conn.SetReadDeadline(wait)
	for {
		got, err := x.readHead()
		n += got
		if err != nil {
			if isTimeout(err) {
				return false, n, nil
			}
			return false, n, err
		}
		switch {
		case x.res.Status == 100:
			return false, n, nil
		case x.res.Status < 200 && x.res.Status != 101:
			x.inform()
			continue
		}
		_ = bc.conn.SetDeadline(time.Time{})
		x.bodyUnsent = true
		return true, n, x.checkFinal()
	}
}

// readFinalHead reads response heads until a final one, passing 1xx on.
// After watchAfter without an answer it watches for the client leaving
// (not while the body copier reads from the client).
func (x *exchange) readFinalHead(deadline time.Time) (int, error) {
	n, err := x.readFinal(deadline)
	if x.watching {
		x.watching = false
		if x.w.Unwatch() || x.gone.Load() {
			err = errClientGone
		}
	}
	if x.copier != nil {
		x.headMu.Lock()
		x.headRead = true
		_ = x.bc.conn.SetReadDeadline(time.Time{})
		x.headMu.Unlock()
	}
	return n, err
}

func (x *exchange) readFinal(deadline time.Time) (n int, err error) {
	bc := x.bc
	soft := time.Now().Add(watchAfter)
	if soft.Before(deadline) && x.copier == nil {
		_ = bc.conn.SetReadDeadline(soft)
	} else {
		soft = time.Time{}
	}
	for {
		got, err := x.readHead()
		n += got
		if err != nil {
			if !soft.IsZero() && isTimeout(err) && time.Now().Before(deadline) {
				soft = time.Time{}
				gone := new(atomic.Bool)
				x.gone = gone
				_ = bc.conn.SetReadDeadline(deadline)
				x.watching = true
				x.w.Watch(func() {
					gone.Store(true)
					_ = bc.conn.SetReadDeadline(time.Unix(1, 0))
				})
				continue
			}
			if isTimeout(err) && (x.gone == nil || !x.gone.Load()) {
				return n, errHeaderTimeout
			}
			return n, err
		}
		if x.res.Status < 200 && x.res.Status != 101 {
			if x.res.Status != 100 {
				x.inform()
			}
			continue
		}
		_ = bc.conn.SetDeadline(time.Time{})
		return n, x.checkFinal()
	}
}

// checkFinal vets a final response head: a 101 only for an upgrade the
// client asked for.
func (x *exchange) checkFinal() error {
	if x.res.Status == 101 && x.r.Upgrade == "" {
		return errBackendResponse{errUnaskedUpgrade}
	}
	return nil
}

// readHead reads and parses one response head from x.bc into x.res. n is
// how many bytes arrived from the socket.
func (x *exchange) readHead() (n int, err error) {
	bc := x.bc
	from := 0
	for {
		buf := (*bc.buf)[bc.r:bc.w]
		end, next, herr := wire.HeadEnd(buf, from)
		if herr != nil {
			return n, errBackendResponse{herr}
		}
		if end > 0 {
			head := string(buf[:end])
			bc.r += end
			if _, err := x.res.Parse(head); err != nil {
				return n, errBackendResponse{err}
			}
			return n, nil
		}
		from = next
		if len(buf) >= maxBackendHeaderBytes {
			return n, errBackendResponse{errHeadTooLarge}
		}
		bc.makeRoom()
		got, err := bc.conn.Read((*bc.buf)[bc.w:])
		bc.w += got
		n += got
		if err == io.EOF {
			return n, io.ErrUnexpectedEOF // the backend closed before a whole head
		}
		if err != nil {
			return n, err
		}
	}
}

// makeRoom makes space at the end of c's buffer for a read: unread bytes
// move to the front, and a full buffer holding one unfinished head grows.
func (c *backendConn) makeRoom() {
	b := *c.buf
	if c.w < len(b) {
		return
	}
	if c.r > 0 {
		copy(b, b[c.r:c.w])
		c.w -= c.r
		c.r = 0
		return
	}
	nb := make([]byte, 2*len(b))
	copy(nb, b[:c.w])
	putBuffer(c.buf)
	c.buf = &nb
}

// inform passes a 1xx response on to the client, hop-by-hop fields removed.
func (x *exchange) inform() {
	fields := x.responseFields(false)
	_ = x.w.Inform(x.res.Status, fields)
}
