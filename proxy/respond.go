package proxy

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"tlsfront/wire"
)

// errClientWrite marks a failure to write to the client (it left, or was
// cut by send_timeout): not the backend's fault.
type errClientWrite struct{ err error }

func (e errClientWrite) Error() string { return "writing to the client: " + e.err.Error() }
func (e errClientWrite) Unwrap() error { return e.err }

// respond writes the final response head x.res to the client and streams
// its body, then gives the backend connection back: to the pool only
// after a response whose end is certain (its length or last chunk read,
// nothing more sent, the backend keeping the connection, the request body
// sent whole).
func (x *exchange) respond() {
	res := &x.res
	if res.Status == 101 {
		x.upgrade()
		return
	}
	kind, length := res.Body(x.r.Method)
	headLength := length
	switch {
	case kind == wire.BodyNone:
		headLength = res.ContentLength // what a HEAD's or a 304's body would be; -1 unknown
	case kind != wire.BodyLength:
		headLength = -1
	}
	// The copier may still be running after the client's body was all
	// read (its last write to the backend, which answered on reading it):
	// the client's connection can carry its next request then; closing it
	// lost a pipelined one.
	copierRunning := x.copier != nil && !x.copierDone() && !x.copier.clientEOF.Load()
	if copierRunning || x.bodyUnsent {
		x.w.CloseAfter() // the client's body will not all be read
	}
	fields := x.responseFields(true)
	x.e.Status = res.Status
	x.started = true
	if err := x.w.WriteHead(res.Status, res.Reason, fields, headLength); err != nil {
		x.abort(errClientWrite{err})
		return
	}
	var err error
	var trailers []wire.Field
	switch kind {
	case wire.BodyLength:
		err = x.copyLength(length)
	case wire.BodyChunked:
		trailers, err = x.copyChunked()
	case wire.BodyClose:
		err = x.copyToClose()
	}
	if err != nil {
		x.abort(err)
		return
	}
	x.stopWatch()
	if err := x.w.Finish(x.trailerFields(trailers)); err != nil {
		x.abort(errClientWrite{err})
		return
	}
	reusable := !res.Close && kind != wire.BodyClose && !x.bodyUnsent
	if x.copier != nil {
		if !x.copierDone() {
			x.stopCopier()
			reusable = false
		} else if !x.copier.sent {
			reusable = false
		}
	}
	x.releaseBackend(reusable)
}

func (x *exchange) copierDone() bool {
	select {
	case <-x.copier.done:
		return true
	default:
		return false
	}
}

// abort cuts the response short after a failure mid-body: the client's
// connection is closed or its stream reset, never passed off as complete,
// and the backend connection dropped. A backend's fault is logged once.
func (x *exchange) abort(err error) {
	x.stopWatch()
	x.w.Abort()
	clientFault := errors.As(err, new(errClientWrite)) || errors.Is(err, errClientGone)
	if x.copier != nil {
		x.stopCopier()
		clientFault = clientFault || x.copier.clientErr != nil
	}
	if !clientFault {
		x.backendWarn(x.h.opts.Logger.Warn(), err, x.e.Status).Msg("backend response cut short: the client's response is truncated")
	}
	x.releaseBackend(false)
}

func (x *exchange) releaseBackend(reusable bool) {
	if x.bc == nil {
		return
	}
	x.bc.pool.release(x.bc, reusable)
	x.bc = nil
}

// write passes body bytes to the client.
func (x *exchange) write(p []byte) error {
	n, err := x.w.Write(p)
	x.e.Bytes += int64(n)
	if err != nil {
		return errClientWrite{err}
	}
	return nil
}

// fill reads more of the response from the backend, flushing what the
// client has not been sent yet first (a streamed response reaches the
// client as it comes; a small one leaves in one write). Each read waits at
// most proxy.read_timeout. A read that waits longer than watchAfter starts
// watching for the client leaving (then the response is abandoned and the
// backend connection dropped), unless the body copier reads from the
// client.
func (x *exchange) fill() error {
	if err := x.w.Flush(); err != nil {
		return errClientWrite{err}
	}
	bc := x.bc
	if bc.r == bc.w {
		bc.r, bc.w = 0, 0
	}
	bc.makeRoom()
	rt := x.h.limits.ReadTimeout
	if !x.watching && (x.copier == nil || x.copierDone()) {
		start := time.Now()
		_ = bc.conn.SetReadDeadline(start.Add(watchAfter))
		n, err := bc.conn.Read((*bc.buf)[bc.w:])
		bc.w += n
		if n > 0 || !isTimeout(err) {
			x.armed = time.Time{} // the deadline is not read_timeout's
			return x.readResult(n, err)
		}
		x.gone = new(atomic.Bool)
		gone := x.gone
		deadline := time.Time{}
		if rt > 0 {
			deadline = start.Add(rt)
		}
		_ = bc.conn.SetReadDeadline(deadline)
		x.armed = start
		x.watching = true
		x.w.Watch(func() {
			gone.Store(true)
			_ = bc.conn.SetReadDeadline(time.Unix(1, 0))
		})
	} else if rt > 0 {
		// Re-armed only when a quarter of it has passed: a stalled read is
		// cut after 75 to 100 % of the timeout, at a fraction of the cost.
		if now := time.Now(); now.Sub(x.armed) > rt/4 {
			_ = bc.conn.SetReadDeadline(now.Add(rt))
			x.armed = now
		}
	} else if x.armed.IsZero() {
		_ = bc.conn.SetReadDeadline(time.Time{})
		x.armed = time.Now()
	}
	n, err := bc.conn.Read((*bc.buf)[bc.w:])
	bc.w += n
	return x.readResult(n, err)
}

func (x *exchange) readResult(n int, err error) error {
	switch {
	case n > 0:
		return nil
	case x.gone != nil && x.gone.Load():
		return errClientGone
	case isTimeout(err):
		return ErrBackendStalled
	}
	return err
}

// stopWatch ends the watch fill started.
func (x *exchange) stopWatch() {
	if x.watching {
		x.watching = false
		if x.w.Unwatch() && x.gone != nil {
			x.gone.Store(true)
		}
	}
}

func (x *exchange) copyLength(left int64) error {
	bc := x.bc
	for left > 0 {
		if bc.buffered() == 0 {
			if err := x.fill(); err != nil {
				if err == io.EOF {
					return io.ErrUnexpectedEOF
				}
				return err
			}
			continue
		}
		k := min(int64(bc.buffered()), left)
		if err := x.write((*bc.buf)[bc.r : bc.r+int(k)]); err != nil {
			return err
		}
		bc.r += int(k)
		left -= k
	}
	return nil
}

func (x *exchange) copyChunked() ([]wire.Field, error) {
	bc := x.bc
	d := &x.chunks
	d.Reset()
	for !d.Done() {
		n, data, err := d.Decode((*bc.buf)[bc.r:bc.w])
		if err != nil {
			return nil, errBackendResponse{err}
		}
		bc.r += n
		if len(data) > 0 {
			if err := x.write(data); err != nil {
				return nil, err
			}
		}
		if n == 0 {
			if err := x.fill(); err != nil {
				if err == io.EOF {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
	}
	return d.Trailers, nil
}

func (x *exchange) copyToClose() error {
	bc := x.bc
	for {
		if bc.buffered() > 0 {
			if err := x.write((*bc.buf)[bc.r:bc.w]); err != nil {
				return err
			}
			bc.r = bc.w
		}
		if err := x.fill(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// upgrade completes a WebSocket handshake the backend accepted and joins
// the two connections until either side ends. The backend connection is
// never reused; no timeout applies to the tunnel.
func (x *exchange) upgrade() {
	up, ok := x.w.(Upgrader)
	if !ok || !wire.EqualFold(upgradeOf(&x.res), x.r.Upgrade) {
		x.started = false
		x.fail(errBackendResponse{errors.New("backend switched to another protocol than the client asked for")})
		x.releaseBackend(false)
		return
	}
	fields := x.responseFields(false)
	x.e.Status = 101
	x.started = true
	client, err := up.Upgrade(fields)
	if err != nil {
		x.releaseBackend(false)
		return
	}
	bc := x.bc
	_ = bc.conn.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := getBuffer()
		defer putBuffer(buf)
		_, _ = io.CopyBuffer(bc.conn, client, *buf)
		bc.conn.Close() // the client ended: so does the backend's side
	}()
	if bc.buffered() > 0 {
		_, err = client.Write((*bc.buf)[bc.r:bc.w])
		bc.r = bc.w
	}
	if err == nil {
		_, _ = io.CopyBuffer(client, bc.conn, *bc.buf)
	}
	client.Close() // the backend ended: so does the client's side
	bc.conn.Close()
	<-done
	x.bc.pool.drop(x.bc)
	x.bc = nil
}

// upgradeOf is the Upgrade value of a response.
func upgradeOf(res *wire.Response) string {
	for _, f := range res.Fields {
		if len(f.Name) == 7 && wire.EqualFold(f.Name, "upgrade") {
			return f.Value
		}
	}
	return ""
}
