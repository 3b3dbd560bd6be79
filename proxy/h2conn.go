package proxy

// One HTTP/2 connection: its state, the reader goroutine (which is also
// the connection's frame processor: no hop to a serve loop), the
// connection-level frames (SETTINGS, PING, WINDOW_UPDATE, RST_STREAM,
// PRIORITY, GOAWAY) and the ways a connection ends.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	initialWindow  = 65535     // RFC 9113 §6.9.2
	maxWindow      = 1<<31 - 1 // RFC 9113 §6.9.1
	defaultFrame   = 16384     // SETTINGS_MAX_FRAME_SIZE until the client says otherwise
	lingerTime     = time.Second
	maxHeaderFrags = 128 // HEADERS plus CONTINUATION frames of one header block
)

type h2conn struct {
	srv  *H2Server
	nc   net.Conn
	info H2ConnInfo
	fr   *http2.Framer  // reader goroutine only
	dec  *hpack.Decoder // reader goroutine only
	blk  h2block        // reader goroutine only: the header block being decoded

	pathOnce sync.Once // the request path's view of the connection (h2path.go)
	pathInfo *ConnInfo

	maxList    int // decoded header list limit
	maxStreams int

	wake     chan struct{} // to the writer; capacity 1
	writerWG sync.WaitGroup

	mu      sync.Mutex
	streams map[uint32]*h2stream
	maxID   uint32      // highest stream ID the client used
	open    int         // open streams (RFC 9113 §5.1.2)
	workers int         // worker slots taken: handlers running or about to (at most maxStreams)
	queue   []*h2stream // streams waiting for a worker slot
	started bool        // a first request arrived: read_header_timeout is over

	sendWindow int64 // connection-level window for our DATA
	peerWindow int32 // the client's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame  int   // the client's SETTINGS_MAX_FRAME_SIZE
	recvAvail  int32 // connection-level window the client may still use
	recvUnsent int32 // consumed by handlers, not yet returned by WINDOW_UPDATE
	unacked    int   // our SETTINGS frames the client has not acknowledged
	enc        *hpack.Encoder
	hbuf       bytes.Buffer

	out, spare       []byte  // frames for the writer; the writer's other buffer
	outBox, spareBox *[]byte // their boxes in outPool
	outGen           uint64  // incremented each time the writer takes out
	writerOn         bool    // a writer goroutine runs
	writing          bool    // the writer is in a socket write
	signaled         bool    // a wake is pending
	closedWrite      bool    // the write side is closed
	waiters          []*h2stream

	goAway   bool // a GOAWAY was queued
	goAwayID uint32
	// glitchGoAway: the GOAWAY was the one sent at 3/4 of the glitch
	// threshold, naming a stream still to come.
	glitchGoAway bool
	closing      bool // no more frames after what is queued: the write side closes
	dead         bool // the socket is closed or failed

	glitches   int
	ctrl       int        // PING, SETTINGS, PRIORITY, unknown frames since the last new stream
	unreturned int64      // DATA bytes sent that the client has not returned by WINDOW_UPDATE
	resets     [32]uint32 // streams we reset lately, whose DATA in flight is dropped quietly
	resetsN    int
	owed       [16]owed // closed streams whose DATA the client may still return window for
	owedN      int
}

func newH2Conn(s *H2Server, nc net.Conn) *h2conn {
	c := &h2conn{
		srv:        s,
		nc:         nc,
		info:       H2ConnInfo{RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()},
		maxList:    s.opts.MaxHeaderBytes,
		maxStreams: s.opts.MaxConcurrentStreams,
		wake:       make(chan struct{}, 1),
		streams:    map[uint32]*h2stream{},
		sendWindow: initialWindow,
		peerWindow: initialWindow,
		peerFrame:  defaultFrame,
		recvAvail:  s.opts.ConnWindow,
	}
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		c.info.TLS = &cs
	}
	c.newFramer()
	c.dec = hpack.NewDecoder(4096, c.onField)
	c.dec.SetMaxStringLength(c.maxList)
	c.enc = hpack.NewEncoder(&c.hbuf)
	return c
}

// newFramer (re)makes the frame reader. A Framer keeps a buffer as large
// as the largest frame it read: after a large DATA frame on a connection
// that is idle again, a new one lets that buffer go.
func (c *h2conn) newFramer() {
	c.fr = http2.NewFramer(nil, c.nc)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(defaultFrame) // we advertise no larger frames
}

// refuseDraining answers a connection that arrives while the server shuts
// down: SETTINGS and GOAWAY (NO_ERROR, last stream 0), then close.
func (c *h2conn) refuseDraining() {
	c.mu.Lock()
	c.dead = true // no writer goroutine: the frames are written here
	c.appendSettings()
	c.goAwayLocked(http2.ErrCodeNo, 0)
	buf := c.out
	c.mu.Unlock()
	_ = c.nc.SetDeadline(time.Now().Add(lingerTime))
	if _, err := c.nc.Write(buf); err == nil {
		closeWrite(c.nc)
		c.linger() // unread bytes at close would make a reset that can overtake our GOAWAY
	}
	c.nc.Close()
}

// serve runs the reader loop until the connection ends.
func (c *h2conn) serve(start time.Time) {
	defer c.finish()
	_ = c.nc.SetReadDeadline(start.Add(c.srv.opts.ReadHeaderTimeout))
	c.mu.Lock()
	c.appendSettings()
	if d := c.srv.opts.ConnWindow - initialWindow; d > 0 {
		c.appendWindowUpdate(0, uint32(d))
	}
	c.signalLocked()
	c.mu.Unlock()

	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.nc, preface[:]); err != nil {
		return
	}
	if string(preface[:]) != http2.ClientPreface {
		c.fail(http2.ConnectionError(http2.ErrCodeProtocol))
		c.linger()
		return
	}
	first := true
	for {
		f, err := c.fr.ReadFrame()
		if err == nil && first {
			if _, ok := f.(*http2.SettingsFrame); !ok {
				err = http2.ConnectionError(http2.ErrCodeProtocol)
			}
			first = false
		}
		if err == nil {
			err = c.process(f)
			if d, ok := f.(*http2.DataFrame); ok && d.Length > 4<<10 && c.idle() {
				c.newFramer()
			}
		}
		keep := err == nil || c.fail(err)
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			c.linger()
			return
		}
		if !keep {
			return
		}
	}
}

func (c *h2conn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open == 0
}

// fail handles an error of the reader loop; it reports whether to keep
// reading (stream errors, and connection errors whose GOAWAY is queued).
func (c *h2conn) fail(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.mu.Lock()
		c.resetIDLocked(se.StreamID, se.Code)
		c.glitchLocked(1, "stream error "+se.Code.String())
		c.mu.Unlock()
		return true
	case errors.As(err, &ce):
		why := "connection error"
		if d := c.fr.ErrorDetail(); d != nil {
			why = d.Error()
		}
		c.fatal(http2.ErrCode(ce), why)
		return true
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.fatal(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.mu.Lock()
		if !c.closing && c.open == 0 { // idle or read_header timeout
			c.goAwayLocked(http2.ErrCodeNo, c.maxID)
			c.shutdownLocked()
		}
		c.mu.Unlock()
		return false
	}
	return false // the client is gone
}

// fatal ends the connection with GOAWAY code: its streams are cancelled,
// queued frames and the GOAWAY are written, then the write side closes.
func (c *h2conn) fatal(code http2.ErrCode, why string) {
	c.mu.Lock()
	c.fatalLocked(code, why)
	c.mu.Unlock()
}

func (c *h2conn) fatalLocked(code http2.ErrCode, why string) {
	if c.closing {
		return
	}
	if code != http2.ErrCodeEnhanceYourCalm {
		c.srv.opts.Logger.Debug().Str("client", remoteString(c.info.RemoteAddr)).Str("code", code.String()).
			Str("reason", why).Msg("http2: closing the connection")
	}
	c.goAwayLocked(code, c.maxID)
	for _, st := range c.streams {
		st.remoteDone, st.localDone = true, true
		c.closeStreamLocked(st)
	}
	c.shutdownLocked()
}

// goAwayLocked queues GOAWAY naming last, the last stream that will be
// served. A graceful GOAWAY is not repeated unless it names an earlier
// stream than the one before; one with an error code always goes out.
func (c *h2conn) goAwayLocked(code http2.ErrCode, last uint32) {
	if c.goAway && code == http2.ErrCodeNo && last >= c.goAwayID {
		return
	}
	if c.goAway {
		last = min(last, c.goAwayID)
	}
	c.goAway, c.goAwayID, c.glitchGoAway = true, last, false
	c.appendGoAway(last, code)
	c.signalLocked()
}

// shutdownLocked stops the connection once queued frames are written: the
// writer closes the write side and the reader drains what the client
// still sends for up to lingerTime, so the client reads our GOAWAY instead
// of a reset.
func (c *h2conn) shutdownLocked() {
	if c.closing {
		return
	}
	c.closing = true
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	c.signalLocked()
}

// drain starts a graceful close: GOAWAY (NO_ERROR), the open streams
// finish, then the connection closes.
func (c *h2conn) drain() {
	c.mu.Lock()
	c.drainLocked()
	c.mu.Unlock()
}

func (c *h2conn) drainLocked() {
	c.goAwayLocked(http2.ErrCodeNo, c.maxID)
	if c.open == 0 {
		c.shutdownLocked()
	}
}

// linger discards what the client sends until it closes or lingerTime.
func (c *h2conn) linger() {
	var buf [512]byte
	for {
		if _, err := c.nc.Read(buf[:]); err != nil {
			return
		}
	}
}

// finish tears the connection down: every stream is cancelled, the socket
// closed, the writer stopped.
func (c *h2conn) finish() {
	c.mu.Lock()
	c.dead = true
	for _, st := range c.streams {
		st.remoteDone, st.localDone = true, true
		c.closeStreamLocked(st)
	}
	c.queue = nil
	c.mu.Unlock()
	c.nc.Close()
	select {
	case c.wake <- struct{}{}: // a waiting writer sees dead and ends
	default:
	}
	c.writerWG.Wait()
}

// process handles one frame read by the reader.
func (c *h2conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.HeadersFrame:
		return c.onHeaders(f)
	case *http2.ContinuationFrame:
		return c.onContinuation(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		return c.onPing(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onRSTStream(f)
	case *http2.PriorityFrame:
		return c.onPriority(f)
	case *http2.GoAwayFrame:
		c.mu.Lock()
		c.ctrlFrameLocked("GOAWAY flood")
		c.drainLocked() // the client opens no new streams: finish and close
		c.mu.Unlock()
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // clients cannot push
	default: // unknown frame types are ignored (RFC 9113 §5.5)
		c.mu.Lock()
		c.ctrlFrameLocked("unknown frame type")
		c.mu.Unlock()
		return nil
	}
}

func (c *h2conn) onSettings(f *http2.SettingsFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.IsAck() {
		if c.unacked == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		c.unacked--
		return nil
	}
	c.ctrlFrameLocked("SETTINGS flood")
	// In the order they appear (RFC 9113 §6.5.3): duplicates are allowed.
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.enc.SetMaxDynamicTableSize(s.Val)
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerWindow)
			for _, st := range c.streams {
				if st.sendWindow+delta > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			for _, st := range c.streams {
				st.sendWindow += delta
			}
			c.peerWindow = int32(s.Val)
			if delta > 0 {
				c.wakeWaitersLocked()
			}
		case http2.SettingMaxFrameSize:
			c.peerFrame = int(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.appendFrame(http2.FrameSettings, http2.FlagSettingsAck, 0, nil)
	c.signalLocked()
	return nil
}

func (c *h2conn) onPing(f *http2.PingFrame) error {
	if f.IsAck() {
		return nil // we send no PINGs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctrlFrameLocked("PING flood")
	c.appendFrame(http2.FramePing, http2.FlagPingAck, 0, f.Data[:])
	c.signalLocked()
	return nil
}

func (c *h2conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID == 0 {
		c.windowUpdateLocked(f.Increment, c.sendWindow, &c.unreturned)
		if c.sendWindow+int64(f.Increment) > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.sendWindow += int64(f.Increment)
		c.wakeWaitersLocked()
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxID {
			return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream
		}
		// Allowed on a closed stream (RFC 9113 §6.9): a client returning
		// what the stream's last DATA frames took is normal, more is not.
		if !c.owedLocked(f.StreamID, f.Increment) {
			c.ctrlFrameLocked("WINDOW_UPDATE flood on closed streams")
		}
		return nil
	}
	c.windowUpdateLocked(f.Increment, st.sendWindow, &st.unreturned)
	if st.sendWindow+int64(f.Increment) > maxWindow {
		c.resetLocked(st, http2.ErrCodeFlowControl)
		return nil
	}
	st.sendWindow += int64(f.Increment)
	wakeup(st.wwake)
	return nil
}

func (c *h2conn) onRSTStream(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxID {
			return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream
		}
		c.ctrlFrameLocked("RST_STREAM flood on closed streams")
		return nil
	}
	if !st.headSent {
		// Rapid reset (CVE-2023-44487): a stream reset before its response.
		c.glitchLocked(1, "stream reset before its response")
	}
	st.remoteDone, st.localDone = true, true
	c.closeStreamLocked(st)
	return nil
}

// onPriority validates PRIORITY and ignores it (RFC 9113 §5.3.2 lets a
// server ignore priorities).
func (c *h2conn) onPriority(f *http2.PriorityFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctrlFrameLocked("PRIORITY flood")
	if f.StreamDep == f.StreamID {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
	}
	return nil
}

// resetIDLocked resets stream id, open or not: RST_STREAM is queued.
func (c *h2conn) resetIDLocked(id uint32, code http2.ErrCode) {
	if st := c.streams[id]; st != nil {
		c.resetLocked(st, code)
		return
	}
	c.appendRSTStream(id, code)
	c.noteResetLocked(id)
	c.signalLocked()
}

// resetLocked queues RST_STREAM for st and closes it.
func (c *h2conn) resetLocked(st *h2stream, code http2.ErrCode) {
	if st.closed {
		return
	}
	c.appendRSTStream(st.id, code)
	c.noteResetLocked(st.id)
	st.remoteDone, st.localDone = true, true
	c.closeStreamLocked(st)
	c.signalLocked()
}

// noteResetLocked remembers a stream we reset: DATA the client sent before
// it saw our RST_STREAM is then dropped without another RST_STREAM.
func (c *h2conn) noteResetLocked(id uint32) {
	c.resets[c.resetsN%len(c.resets)] = id
	c.resetsN++
}

// owed is window a client may still return for a closed stream.
type owed struct {
	id    uint32
	bytes int64
}

// noteOwedLocked remembers what a closing stream's client may return.
func (c *h2conn) noteOwedLocked(st *h2stream) {
	if st.unreturned > 0 {
		c.owed[c.owedN%len(c.owed)] = owed{st.id, st.unreturned}
		c.owedN++
	}
}

// owedLocked reports whether inc returns window owed for closed stream id,
// and deducts it.
func (c *h2conn) owedLocked(id, inc uint32) bool {
	for i := range c.owed {
		if o := &c.owed[i]; o.id == id && int64(inc) <= o.bytes {
			o.bytes -= int64(inc)
			return true
		}
	}
	return false
}

func (c *h2conn) resetLately(id uint32) bool {
	for _, r := range c.resets {
		if r == id {
			return true
		}
	}
	return false
}

func remoteString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
