package proxy

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// backendClient holds the connections to the backends: one pool per
// backend address, shared by the sites that name it. Every request goes to
// the backend on a connection taken from its pool, written and read by the
// goroutine serving the request (roundtrip.go): no goroutine per
// connection, no hand-over between goroutines, one write per request
// without a body and usually one read per response.
//
// A pool caps the connections open to its backend at maxConns
// (proxy.max_backend_conns, counting idle, busy and dialling ones): a
// request past the cap waits for a connection in a FIFO queue, at most
// queueTimeout, then gets 503; a request whose client leaves while it waits
// is never sent. A connection given back goes first to the oldest waiter.
//
// Every idle connection is checked by a non-blocking peek at its socket
// before reuse (one recvfrom): one the backend closed (Apache's
// KeepAliveTimeout is 5 s by default) or sent anything on while idle (a
// 408 before closing, a body after a HEAD response, bytes past a
// Content-Length) is closed, never read as the next request's answer.
// Idle connections are also swept every sweepEvery and closed after
// idleConnTimeout.
type backendClient struct {
	opts  backendOptions
	mu    sync.Mutex
	pools map[string]*backendPool
}

type backendOptions struct {
	dial          func(network, addr string) (net.Conn, error)
	maxIdle       int           // idle connections kept per backend address; 0 disables keep-alive
	maxConns      int           // connections open per backend address; 0 means no cap
	queueTimeout  time.Duration // longest wait for a connection past maxConns
	headerTimeout time.Duration // for writing the request and reading the response head
}

// sweepEvery is how often idle connections are checked and expired while
// there are any, so sockets the backend closed do not linger.
const sweepEvery = time.Second

// idleConnTimeout closes backend connections idle this long.
const idleConnTimeout = 90 * time.Second

// maxBackendHeaderBytes bounds a backend response's head (and each 1xx
// response before it), like http.Transport's MaxResponseHeaderBytes.
const maxBackendHeaderBytes = 1 << 20

func newBackendClient(o backendOptions) *backendClient {
	return &backendClient{opts: o, pools: map[string]*backendPool{}}
}

// pool returns the pool of backend address addr ("host:port").
func (b *backendClient) pool(addr string) *backendPool {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pools[addr]
	if p == nil {
		p = &backendPool{addr: addr, opts: &b.opts}
		b.pools[addr] = p
	}
	return p
}

// closeIdle closes every idle connection.
func (b *backendClient) closeIdle() {
	b.mu.Lock()
	pools := make([]*backendPool, 0, len(b.pools))
	for _, p := range b.pools {
		pools = append(pools, p)
	}
	b.mu.Unlock()
	for _, p := range pools {
		p.closeIdle()
	}
}

// backendPool is the connections to one backend address.
type backendPool struct {
	addr string
	opts *backendOptions

	mu      sync.Mutex
	idle    []*backendConn // most recently used last
	open    int            // connections counted against maxConns
	waiters []*connWaiter  // FIFO
	sweep   *time.Timer    // armed while connections idle
}

// connWaiter is a request queued for a connection. It is handed a
// connection, or nil: the right to dial one (a slot of maxConns).
type connWaiter struct {
	ch chan *backendConn
}

// Errors of acquire.
var (
	errQueueTimeout = errors.New("no backend connection free within proxy.queue_timeout (proxy.max_backend_conns reached)")
	errClientGone   = errors.New("the client went away")
)

// acquire returns a connection to the backend: a pooled idle one (reused
// true) or a new one. Past maxConns it waits up to queueTimeout, or until
// the channel watch returns is closed (the client left); watch is called
// only then.
func (p *backendPool) acquire(watch func() <-chan struct{}) (c *backendConn, reused bool, err error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			break
		}
		c = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(c.idleAt) < idleConnTimeout && c.clean() {
			return c, true, nil
		}
		p.drop(c)
	}
	if p.opts.maxConns <= 0 || p.open < p.opts.maxConns {
		p.open++
		p.mu.Unlock()
		return p.dial()
	}
	w := &connWaiter{ch: make(chan *backendConn, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	gone := watch()

	t := time.NewTimer(p.opts.queueTimeout)
	defer t.Stop()
	select {
	case c := <-w.ch:
		return p.take(c)
	case <-t.C:
		err = errQueueTimeout
	case <-gone:
		err = errClientGone
	}
	p.mu.Lock()
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.mu.Unlock()
			return nil, false, err
		}
	}
	p.mu.Unlock()
	// Handed something just now: give it back.
	if c := <-w.ch; c != nil {
		p.release(c, true)
	} else {
		p.slotFree()
	}
	return nil, false, err
}

// take turns what a waiter was handed into a connection.
func (p *backendPool) take(c *backendConn) (*backendConn, bool, error) {
	if c == nil {
		return p.dial() // a slot to dial in
	}
	return c, true, nil
}

// dial opens a connection in a slot already counted in open.
func (p *backendPool) dial() (*backendConn, bool, error) {
	conn, err := p.opts.dial("tcp", p.addr)
	if err != nil {
		p.slotFree()
		return nil, false, err
	}
	c := &backendConn{pool: p, conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
		c.peekFn = c.peek // one allocation per connection, not per peek
	}
	return c, false, nil
}

// redial replaces c, which failed, by a new connection in its slot (a
// retry).
func (p *backendPool) redial(c *backendConn) (*backendConn, error) {
	c.conn.Close()
	c.freeBuffer()
	nc, _, err := p.dial()
	return nc, err
}

// release gives c back after a request: to the oldest waiter, or to the
// idle list when reusable (the response ended where its framing said and
// nothing else arrived), else it is closed.
func (p *backendPool) release(c *backendConn, reusable bool) {
	if !reusable || p.opts.maxIdle <= 0 || c.buffered() > 0 {
		p.drop(c)
		return
	}
	c.freeBuffer()
	c.idleAt = time.Now()
	p.mu.Lock()
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		w.ch <- c
		return
	}
	var oldest *backendConn
	if len(p.idle) >= p.opts.maxIdle {
		oldest = p.idle[0]
		p.idle = append(p.idle[:0], p.idle[1:]...)
		p.open--
	}
	p.idle = append(p.idle, c)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(sweepEvery, p.expire)
	}
	p.mu.Unlock()
	if oldest != nil {
		oldest.conn.Close()
	}
}

// drop closes c and frees its slot.
func (p *backendPool) drop(c *backendConn) {
	c.conn.Close()
	c.freeBuffer()
	p.slotFree()
}

// slotFree gives a slot of maxConns to the oldest waiter, or back.
func (p *backendPool) slotFree() {
	p.mu.Lock()
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		w.ch <- nil
		return
	}
	p.open--
	p.mu.Unlock()
}

// expire closes idle connections that timed out or that the backend
// closed, and runs again while any are left.
func (p *backendPool) expire() {
	now := time.Now()
	p.mu.Lock()
	var closed []*backendConn
	kept := p.idle[:0]
	for _, c := range p.idle {
		if now.Sub(c.idleAt) < idleConnTimeout && c.clean() {
			kept = append(kept, c)
		} else {
			closed = append(closed, c)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	if len(kept) > 0 {
		p.sweep.Reset(sweepEvery)
	} else {
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, c := range closed {
		p.drop(c)
	}
}

func (p *backendPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, c := range idle {
		p.drop(c)
	}
}

// counts returns the connections open and idle, for tests.
func (p *backendPool) counts() (open, idle, waiting int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open, len(p.idle), len(p.waiters)
}

// backendConn is one connection to a backend. Its read buffer is taken
// from a pool for a request and given back when the connection idles.
type backendConn struct {
	pool   *backendPool
	conn   net.Conn
	buf    *[]byte // read buffer; nil while idle
	r, w   int     // unread bytes are (*buf)[r:w]
	idleAt time.Time

	raw       syscall.RawConn // for the idle peek; nil when conn has no socket
	peekFn    func(fd uintptr) bool
	peekBuf   [1]byte
	peekClean bool
}

func (c *backendConn) buffered() int { return c.w - c.r }

func (c *backendConn) takeBuffer() {
	if c.buf == nil {
		c.buf = getBuffer()
		c.r, c.w = 0, 0
	}
}

func (c *backendConn) freeBuffer() {
	if c.buf != nil {
		putBuffer(c.buf)
		c.buf, c.r, c.w = nil, 0, 0
	}
}

// clean reports whether an idle connection has nothing to read and was not
// closed by the backend, by a non-blocking peek at its socket (one
// recvfrom, no allocation).
func (c *backendConn) clean() bool {
	if c.raw == nil {
		return true
	}
	c.peekClean = false
	if err := c.raw.Read(c.peekFn); err != nil {
		return false
	}
	return c.peekClean
}

func (c *backendConn) peek(fd uintptr) bool {
	_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peekBuf[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	c.peekClean = errno == unix.EAGAIN || errno == unix.EWOULDBLOCK // else data, EOF or an error
	return true                                                     // never wait
}

// bufSize is the size of pooled I/O buffers: a TLS record's payload, so a
// full buffer is one record to the client.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

func getBuffer() *[]byte { return bufPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) != bufSize {
		return // grown for a large head: not kept
	}
	*b = (*b)[:bufSize]
	bufPool.Put(b)
}
