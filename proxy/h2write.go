package proxy

// The writing side of an HTTP/2 connection. Whoever produces a frame (the
// reader for control frames, a stream's worker for its response) appends
// it to the connection's buffer under the connection's lock; one writer
// goroutine swaps the buffer out and writes it with one call, so frames of
// every stream that became ready meanwhile share TLS records and write
// calls. Before it takes the buffer the writer yields once, letting the
// workers that are ready to run append first.

import (
	"encoding/binary"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

const (
	// An idle connection's writer goroutine ends after this: a burst of
	// requests (a page and its resources) keeps one writer, and a
	// connection quiet for longer holds no writer stack or buffer (at 1 s,
	// a front that had just accepted thousands of connections held most of
	// their writers at once: 28 KB of RSS per idle connection, not 22).
	writerLinger = 100 * time.Millisecond

	outFlush = 16 << 10  // a TLS record's worth: buffered DATA wakes the writer
	outHigh  = 256 << 10 // DATA writers wait while this much is buffered
	outMax   = 1 << 20   // control frames past this (a client not reading): close
	outKeep  = 64 << 10  // buffers larger than this are not kept for reuse

	writeChunk = 64 << 10 // each this much must reach the client within the send timeout
)

// outPool holds write buffers while connections are idle.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// appendFrame queues one frame.
func (c *h2conn) appendFrame(typ http2.FrameType, flags http2.Flags, id uint32, payload []byte) {
	if c.out == nil {
		c.outBox = outPool.Get().(*[]byte)
		c.out = (*c.outBox)[:0]
	}
	n := len(payload)
	c.out = append(c.out, byte(n>>16), byte(n>>8), byte(n), byte(typ), byte(flags),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	c.out = append(c.out, payload...)
	if len(c.out) > outMax && !c.closing && !c.dead {
		// Only control frames grow the buffer this far (DATA waits at
		// outHigh): a client making us answer while it reads nothing.
		c.srv.opts.Logger.Debug().Str("client", remoteString(c.info.RemoteAddr)).
			Msg("http2: client reads none of our frames: closing the connection")
		c.dead = true
		c.nc.Close()
	}
}

func (c *h2conn) appendSettings() {
	var p [3 * 6]byte
	put := func(i int, id http2.SettingID, v uint32) {
		binary.BigEndian.PutUint16(p[i*6:], uint16(id))
		binary.BigEndian.PutUint32(p[i*6+2:], v)
	}
	put(0, http2.SettingMaxConcurrentStreams, uint32(c.maxStreams))
	put(1, http2.SettingInitialWindowSize, uint32(c.srv.opts.StreamWindow))
	put(2, http2.SettingMaxHeaderListSize, uint32(c.maxList))
	c.appendFrame(http2.FrameSettings, 0, 0, p[:])
	c.unacked++
}

func (c *h2conn) appendWindowUpdate(id, n uint32) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], n)
	c.appendFrame(http2.FrameWindowUpdate, 0, id, p[:])
}

func (c *h2conn) appendRSTStream(id uint32, code http2.ErrCode) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(code))
	c.appendFrame(http2.FrameRSTStream, 0, id, p[:])
}

func (c *h2conn) appendGoAway(last uint32, code http2.ErrCode) {
	var p [8]byte
	binary.BigEndian.PutUint32(p[:], last)
	binary.BigEndian.PutUint32(p[4:], uint32(code))
	c.appendFrame(http2.FrameGoAway, 0, 0, p[:])
}

// signalLocked wakes the writer, unless it is writing (it will find the
// new frames when its write returns) or already woken. An idle
// connection has no writer goroutine: this starts one.
func (c *h2conn) signalLocked() {
	if c.writing || c.signaled || c.dead {
		return
	}
	c.signaled = true
	if !c.writerOn {
		c.writerOn = true
		c.writerWG.Add(1)
		go c.writeLoop()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// wakeWaitersLocked wakes the writes waiting for connection window or
// buffer room; each checks again and waits again if it must.
func (c *h2conn) wakeWaitersLocked() {
	for i, st := range c.waiters {
		st.waiting = false
		wakeup(st.wwake)
		c.waiters[i] = nil
	}
	c.waiters = c.waiters[:0]
}

// writeLoop is the connection's writer goroutine. It ends once the
// connection has had no open stream and nothing to write for
// writerLinger, so that an idle connection costs one goroutine (its
// reader), not two; signalLocked starts it again.
func (c *h2conn) writeLoop() {
	defer c.writerWG.Done()
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		runtime.Gosched() // let ready workers add their frames to this write
		c.mu.Lock()
		c.signaled = false
		c.flushLocked()
		if c.closing && !c.closedWrite && !c.dead {
			c.closedWrite = true
			closeWrite(c.nc)
		}
		if c.dead || c.closedWrite && len(c.out) == 0 && !c.signaled {
			c.stopWriterLocked()
			return
		}
		idle := len(c.out) == 0 && !c.signaled && c.open == 0 && !c.closing
		c.mu.Unlock()
		if !idle {
			<-c.wake
			continue
		}
		if linger == nil {
			linger = time.NewTimer(writerLinger)
		} else {
			linger.Reset(writerLinger)
		}
		select {
		case <-c.wake:
			linger.Stop()
			continue
		case <-linger.C:
		}
		c.mu.Lock()
		if len(c.out) == 0 && !c.signaled && c.open == 0 && !c.closing {
			c.stopWriterLocked()
			return
		}
		c.mu.Unlock()
	}
}

// flushLocked writes what is queued, one write call per batch; the lock
// is released while writing.
func (c *h2conn) flushLocked() {
	for len(c.out) > 0 && !c.dead {
		buf, box := c.out, c.outBox
		c.out, c.outBox, c.spare, c.spareBox = c.spare, c.spareBox, nil, nil
		c.outGen++
		c.writing = true
		c.mu.Unlock()
		err := c.write(buf)
		c.mu.Lock()
		c.writing = false
		if cap(buf) <= outKeep {
			c.spare, c.spareBox = buf[:0], box
		}
		c.wakeWaitersLocked()
		if err != nil && !c.dead {
			c.srv.opts.Logger.Debug().Err(err).Str("client", remoteString(c.info.RemoteAddr)).
				Msg("http2: writing to the client failed: closing the connection")
			c.dead = true
			c.nc.Close() // the reader returns and tears the connection down
		}
	}
}

// write writes buf to the client. With a send timeout, each 64 KiB must
// go within it: a client reading slowly keeps its connection, one that
// stopped reading loses it (a write deadline cannot be extended: crypto/tls
// fails for good once one passes).
func (c *h2conn) write(buf []byte) error {
	d := c.srv.opts.SendTimeout
	if d <= 0 {
		_, err := c.nc.Write(buf)
		return err
	}
	for len(buf) > 0 {
		n := min(len(buf), writeChunk)
		_ = c.nc.SetWriteDeadline(time.Now().Add(d))
		if _, err := c.nc.Write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// stopWriterLocked ends the writer goroutine (the caller returns next),
// giving the write buffers back to the pool, and unlocks.
func (c *h2conn) stopWriterLocked() {
	for _, b := range []struct {
		buf *[]byte
		box **[]byte
	}{{&c.out, &c.outBox}, {&c.spare, &c.spareBox}} {
		if *b.box != nil && len(*b.buf) == 0 && cap(*b.buf) <= outKeep {
			**b.box = (*b.buf)[:0]
			outPool.Put(*b.box)
			*b.buf, *b.box = nil, nil
		}
	}
	c.writerOn = false
	c.mu.Unlock()
}

// closeWrite closes the write side of c (on TLS a close_notify alert, on a
// plain connection a TCP half-close), so that the client reads everything
// sent before and then the end.
func closeWrite(c interface{ Close() error }) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
