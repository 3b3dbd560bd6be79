package proxy

import (
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Waiting for a keep-alive connection's next request. A goroutine blocked
// in tls.Conn.Read sits under crypto/tls's record layer, whose frames keep
// its stack at 8 KiB; one blocked on the socket's readiness (the runtime's
// poller, a few shallow frames) lets the garbage collector shrink it. So
// while idle the engine waits on the socket itself, then reads: an idle
// HTTP/1.1 connection holds its TLS state, a small stack and no buffer.

// idleSocket returns the socket below c for the idle wait, or nil when
// there is none to wait on (a connection type without one, or bytes
// buffered above it: a PROXY header's read-ahead).
func idleSocket(c net.Conn) syscall.RawConn {
	for range 8 { // a bound on wrappers
		switch v := c.(type) {
		case syscall.Conn:
			raw, err := v.SyscallConn()
			if err != nil {
				return nil
			}
			return raw
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// hotIdle is how long an idle connection first waits in crypto/tls itself
// for its next request. A keep-alive client busy with a page sends it
// within a round trip or two: read straight away, that costs one read
// (plus one that finds nothing, as any event loop has) instead of the
// peeks of the lean wait below. A connection quiet for longer moves to
// the lean wait, where the garbage collector can shrink its stack.
const hotIdle = 100 * time.Millisecond

// waitIdle waits until the connection has something to read or deadline
// passes, and reads the first byte of what came into c.one. It reports
// false when nothing came (closed, timed out, woken by Shutdown).
func (c *h1conn) waitIdle(deadline time.Time) bool {
	hot := time.Now().Add(hotIdle)
	if c.raw == nil || hot.After(deadline) { // no lean wait without the socket: one read to the deadline
		hot = deadline
	}
	_ = c.tc.SetReadDeadline(hot)
	if c.woken() {
		return false
	}
	// A timeout leaves the connection usable (crypto/tls keeps a partial
	// record); anything else ends it.
	n, err := c.tc.Read(c.one[:])
	if n == 1 {
		return true
	}
	if !isTimeout(err) || !hot.Before(deadline) {
		return false
	}
	_ = c.tc.SetReadDeadline(deadline)
	if c.woken() {
		return false
	}
	if c.raw.Read(c.readableFn) != nil {
		return false
	}
	n, _ = c.tc.Read(c.one[:])
	return n == 1
}

// woken reports whether Shutdown asked this idle connection to end. It is
// asked after each read deadline the wait sets: Shutdown marks the engine
// draining before it moves an idle connection's deadline into the past,
// so a wake-up is never overwritten by the wait's own deadline.
func (c *h1conn) woken() bool { return c.idle.Load() && c.e.draining.Load() }

// readable is the idle wait's poll callback: true (stop waiting) once the
// socket has data, an EOF or an error, by a non-blocking peek; false
// (wait for the poller) while it would block. (The callback must look:
// the poller reports readiness by edges, and one already taken before the
// wait would never come again.)
func (c *h1conn) readable(fd uintptr) bool {
	_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peek[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return errno != unix.EAGAIN && errno != unix.EWOULDBLOCK
}
