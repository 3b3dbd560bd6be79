package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// framingBackend counts the requests it can parse out of what tlsfront
// sends it, with Go's strict HTTP/1.1 parser, answering each with an empty
// 200.
type framingBackend struct {
	ln       net.Listener
	parsed   atomic.Int64
	accepted atomic.Int64
	active   atomic.Int64
	broken   atomic.Int64 // streams that ended inside a request head
}

func (b *framingBackend) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.active.Add(1)
		b.accepted.Add(1)
		go func() {
			defer b.active.Add(-1)
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			for {
				if _, err := br.Peek(1); err != nil {
					return // clean end between requests
				}
				req, err := http.ReadRequest(br)
				if err != nil {
					b.broken.Add(1)
					return
				}
				b.parsed.Add(1)
				if _, err := io.Copy(io.Discard, req.Body); err != nil {
					return // an aborted body: the request was one, cut short
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			}
		}()
	}
}

// idle waits up to 2 s for the backend to have accepted every connection
// the handler dialed and finished with each. (A connection still in the
// listen backlog is not active yet: without the dial count, its request
// would be parsed during the next input and blamed on it.)
func (b *framingBackend) idle(dialed *atomic.Int64) {
	for deadline := time.Now().Add(2 * time.Second); (b.accepted.Load() < dialed.Load() || b.active.Load() > 0) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// FuzzForwardedFraming sends arbitrary bytes as an HTTP/1.x client to a
// Handler with limits in front of a backend that parses what it gets. The
// backend must see exactly as many requests as the handler forwarded,
// each with a complete head: whatever the client sent, the bytes sent to
// the backend have one interpretation, the one tlsfront acted on.
func FuzzForwardedFraming(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /inner HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /a HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nGET /inner HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: a\r\nX-F: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
		"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\"\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\nGET a:1 HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a HTTP/1.1\nHost: a\n\nGET /b HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	} {
		f.Add([]byte(s))
	}
	b := &framingBackend{}
	var err error
	if b.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.ln.Close() })
	go b.serve()
	backend, _ := url.Parse("http://" + b.ln.Addr().String())
	h, err := New(Options{Sites: []Site{{Backend: backend}}, Route: func(string) (int, bool) { return 0, true },
		ResponseHeaderTimeout: 2 * time.Second, Logger: zerolog.Nop()}) // no keep-alive: one request per backend connection
	if err != nil {
		f.Fatal(err)
	}
	var dialed atomic.Int64
	dial := h.backend.opts.dial
	h.backend.opts.dial = func(network, addr string) (net.Conn, error) {
		c, err := dial(network, addr)
		if err == nil {
			dialed.Add(1)
		}
		return c, err
	}
	h.SetLimits(Limits{MaxBodyBytes: 4 << 10, ReadTimeout: time.Second})
	var forwarded, gone atomic.Int64
	h.opts.Observe = func(e *Entry) {
		if e.Backend >= 0 {
			forwarded.Add(1)
		}
		if e.Status == 499 {
			gone.Add(1)
		}
	}
	engine := NewH1(H1Options{Server: h, ReadHeaderTimeout: time.Second, MaxHeaderBytes: 8 << 10, Logger: zerolog.Nop()})
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go func() {
		for {
			c, err := front.Accept()
			if err != nil {
				return
			}
			go engine.serveConn(c.(*net.TCPConn), ConnInfo{})
		}
	}()
	f.Cleanup(func() { front.Close(); _ = engine.Shutdown(context.Background()); h.Close() })

	f.Fuzz(func(t *testing.T, raw []byte) {
		fwd0, parsed0, broken0, gone0 := forwarded.Load(), b.parsed.Load(), b.broken.Load(), gone.Load()
		c, err := net.Dial("tcp", front.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(raw)
		// Read until the server closes or has been silent for 50 ms. No
		// half-close: Go's server takes EOF as the client leaving and
		// cancels its requests. Then wait for every handler and backend
		// connection to finish.
		buf := make([]byte, 4096)
		for {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
		for deadline := time.Now().Add(2 * time.Second); engine.Open() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		b.idle(&dialed)
		if n := b.broken.Load() - broken0; n > 0 {
			t.Fatalf("the backend got %d request heads it could not parse", n)
		}
		// A request the client abandoned (499) may be counted as forwarded
		// without reaching the backend; the backend must never see more.
		got, want := b.parsed.Load()-parsed0, forwarded.Load()-fwd0
		if got > want || got != want && gone.Load() == gone0 {
			t.Fatalf("the backend parsed %d requests, the handler forwarded %d", got, want)
		}
	})
}
