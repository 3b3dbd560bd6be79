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

// waitIdle waits until the connection has something to read or deadline
// passes, and reads the first byte of what came into c.one. It reports
// false when nothing came (closed, timed out, woken by Shutdown).
func (c *h1conn) waitIdle(deadline time.Time) bool {
	_ = c.tc.SetReadDeadline(deadline)
	if c.raw != nil {
		// A whole record crypto/tls already holds is read at once; without
		// one the probe fails at once (a timeout leaves the connection
		// usable), and the socket's readiness is awaited.
		_ = c.tc.SetReadDeadline(time.Unix(1, 0))
		n, err := c.tc.Read(c.one[:])
		_ = c.tc.SetReadDeadline(deadline)
		if n == 1 {
			return true
		}
		if !isTimeout(err) {
			return false
		}
		if c.raw.Read(c.readableFn) != nil {
			return false
		}
	}
	n, _ := c.tc.Read(c.one[:])
	return n == 1
}

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
