package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tlsfront/internal/itest"
)

// countingListener counts the Accept calls that returned a connection.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (c *countingListener) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err == nil {
		c.accepted.Add(1)
	}
	return conn, err
}

func TestConnLimiter(t *testing.T) {
	verifyNoLeaks(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingListener{Listener: raw}
	var logs itest.SyncBuffer
	now := time.Unix(1_700_000_000, 0)
	var clock sync.Mutex
	lim := NewConnLimiter(2)
	lim.SetLogger(zerolog.New(&logs))
	lim.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	ln := lim.Listener(inner)
	accepted := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })

	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	next := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("connection within the limit was not accepted")
			return nil
		}
	}

	dial()
	dial()
	s1, s2 := next(), next()
	if lim.Open() != 2 {
		t.Fatalf("Open() = %d after two accepts, want 2", lim.Open())
	}
	for i := 0; i < 5; i++ {
		if c := dial(); !closedByPeer(c) {
			t.Fatalf("connection %d past the limit was not closed", i+3)
		}
	}
	if got := lim.Refused(); got != 5 {
		t.Errorf("Refused() = %d, want 5", got)
	}
	if got := logs.Count("max_connections reached"); got != 1 {
		t.Errorf("5 refusals within the log interval wrote %d lines, want 1:\n%s", got, logs.String())
	}
	select {
	case c := <-accepted:
		t.Fatalf("a connection past the limit reached the server: %v", c.RemoteAddr())
	default:
	}

	t.Run("no spin at the limit", func(t *testing.T) {
		before := inner.accepted.Load()
		time.Sleep(200 * time.Millisecond) // nobody dials: nothing may be accepted
		if got := inner.accepted.Load() - before; got != 0 {
			t.Errorf("the accept loop took %d connections while no client dialled", got)
		}
	})

	t.Run("log line per interval with the count since the last", func(t *testing.T) {
		advance(9 * time.Second)
		closedByPeer(dial())
		advance(2 * time.Second)
		closedByPeer(dial())
		if got := logs.Count("max_connections reached"); got != 2 {
			t.Fatalf("got %d log lines, want 2 (one per 10s):\n%s", got, logs.String())
		}
		if !strings.Contains(logs.String(), `"refused":6`) {
			t.Errorf("second line does not count the 6 refusals since the first:\n%s", logs.String())
		}
	})

	t.Run("a closed connection frees its slot once", func(t *testing.T) {
		s1.Close()
		s1.Close() // twice: counted once
		if lim.Open() != 1 {
			t.Fatalf("Open() = %d after closing one of two, want 1", lim.Open())
		}
		dial()
		next()
		if c := dial(); !closedByPeer(c) {
			t.Error("the limit was not enforced again once the slot was taken")
		}
	})

	t.Run("raised to unlimited", func(t *testing.T) {
		lim.SetMax(0)
		for i := 0; i < 3; i++ {
			dial()
			next().Close()
		}
	})
	s2.Close()
}

// limitsHandler is a Handler with l in front of backend.
func limitsHandler(t *testing.T, backend string, l Limits, logger zerolog.Logger) *Handler {
	t.Helper()
	h := newHandler(t, backend)
	h.opts.Logger = logger
	h.SetLimits(l)
	return h
}

// namedClient is a client of a test server and the protocol it speaks.
type namedClient struct {
	name   string
	client *http.Client
}

// testClients returns clients of srv speaking HTTP/1.1 ("h1") and HTTP/2
// ("h2"), each giving up after timeout.
func testClients(t *testing.T, srv *testServer, timeout time.Duration) []namedClient {
	h1 := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	t.Cleanup(h1.CloseIdleConnections)
	h2 := srv.Client()
	h2.Timeout = timeout
	return []namedClient{{"h1", h1}, {"h2", h2}}
}

// hideLength hides a reader's length, so clients send it chunked (HTTP/1.1)
// or without Content-Length (HTTP/2).
type hideLength struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	verifyNoLeaks(t)
	const limit = 100 << 10
	var mu sync.Mutex
	var got []string // per backend request: bytes read and the read error
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%d %v", n, err))
		mu.Unlock()
		fmt.Fprintf(w, "%d", n)
	}))
	t.Cleanup(backend.Close)
	var logs itest.SyncBuffer
	srv, _ := serveTLS(t, limitsHandler(t, backend.URL, Limits{MaxBodyBytes: limit}, zerolog.New(&logs)))
	clients := testClients(t, srv, 10*time.Second)
	h1, client := clients[0].client, clients[1].client

	for _, tt := range []struct {
		name        string
		client      *http.Client
		size        int
		hide        bool // no Content-Length
		wantStatus  int
		wantBackend string // what the backend read; "" = not asked; "cut" = read failed
	}{
		{"h1 at the limit", h1, limit, false, 200, "102400 <nil>"},
		{"h1 declared over", h1, limit + 1, false, 413, ""},
		{"h1 chunked at the limit", h1, limit, true, 200, "102400 <nil>"},
		{"h1 chunked over", h1, 4 * limit, true, 413, "cut"},
		{"h2 at the limit", client, limit, false, 200, "102400 <nil>"},
		{"h2 declared over", client, 10 * limit, false, 413, ""},
		{"h2 undeclared over", client, 4 * limit, true, 413, "cut"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			var body io.Reader = bytes.NewReader(make([]byte, tt.size))
			if tt.hide {
				body = hideLength{body}
			}
			res, err := tt.client.Post(srv.URL+"/up", "application/octet-stream", body)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			var seen []string
			wait := 2 * time.Second
			if tt.wantBackend == "" {
				wait = 100 * time.Millisecond // a request that should not come
			}
			for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				seen = append([]string(nil), got...)
				mu.Unlock()
				if (len(seen) > 0 && tt.wantBackend != "") || time.Now().After(deadline) {
					break
				}
			}
			switch {
			case tt.wantBackend == "" && len(seen) != 0:
				t.Errorf("backend was asked (%v), want not", seen)
			case tt.wantBackend == "cut" && (len(seen) != 1 || strings.HasSuffix(seen[0], "<nil>")):
				t.Errorf("backend read %v, want one request whose body read failed", seen)
			case tt.wantBackend != "" && tt.wantBackend != "cut" && (len(seen) != 1 || seen[0] != tt.wantBackend):
				t.Errorf("backend read %v, want [%s]", seen, tt.wantBackend)
			}
		})
	}
	if n := logs.Count("max_body_bytes refused"); n != 4 {
		t.Errorf("%d log lines for 4 refused bodies, want 4:\n%s", n, logs.String())
	}
}

func TestReadTimeout(t *testing.T) {
	verifyNoLeaks(t)
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stall":
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/big":
			w.Write(make([]byte, 8<<20)) // more than the socket buffers hold
		case "/reset":
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
			c, _, _ := http.NewResponseController(w).Hijack()
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() { close(release) })
	var logs itest.SyncBuffer
	srv, _ := serveTLS(t, limitsHandler(t, backend.URL, Limits{ReadTimeout: 300 * time.Millisecond}, zerolog.New(&logs)))

	for _, c := range testClients(t, srv, 10*time.Second) {
		for _, cut := range []struct{ path, name string }{
			{"/stall", " stalled body is cut, not completed"},
			{"/reset", " reset body is cut and logged once"},
		} {
			t.Run(c.name+cut.name, func(t *testing.T) {
				before := logs.Count("backend response cut short")
				if n, err := getAll(c.client, srv.URL+cut.path); err == nil || n >= 1000 {
					t.Errorf("read %d bytes, err %v; want the response cut short", n, err)
				}
				if got := logs.Count("backend response cut short") - before; got != 1 {
					t.Errorf("%d log lines, want 1:\n%s", got, logs.String())
				}
			})
		}
		t.Run(c.name+" slow client is not a slow backend", func(t *testing.T) {
			res, err := c.client.Get(srv.URL + "/big")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if _, err := io.ReadFull(res.Body, make([]byte, 64<<10)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the proxy waits on us, not on the backend
			n, err := io.Copy(io.Discard, res.Body)
			if err != nil || n != 8<<20-64<<10 {
				t.Errorf("after a pause the rest was %d bytes, err %v; want %d", n, err, 8<<20-64<<10)
			}
		})
	}
}

func TestUpgradeWithLimits(t *testing.T) {
	checkWebSocketEcho(t, func(backend string) *Handler {
		return limitsHandler(t, backend, Limits{MaxBodyBytes: 10, ReadTimeout: time.Second}, zerolog.Nop())
	})
}

// getAll GETs url and reads the whole body. A response cut short fails
// either before its headers arrive (they may still be buffered when the
// connection is dropped) or while its body is read.
func getAll(c *http.Client, url string) (int64, error) {
	res, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return io.Copy(io.Discard, res.Body)
}

// TestRefusals checks what SetLimits makes the handler refuse to forward,
// with raw HTTP/1.1 requests the standard client would not send.
func TestRefusals(t *testing.T) {
	verifyNoLeaks(t)
	var asked atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(backend.Close)
	var logs itest.SyncBuffer
	srv, _ := serveTLS(t, limitsHandler(t, backend.URL, Limits{}, zerolog.New(&logs)))
	for _, tt := range []struct {
		name, req string
		status    int
		asked     bool // the backend saw the request begin
	}{
		{"CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 405, false},
		{"authority-form GET", "GET a.example:443 HTTP/1.1\r\nHost: a.example\r\n\r\n", 400, false},
		{"bad chunk size", "POST /x HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400, true},
		{"chunk longer than its size", "POST /x HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", 400, true},
		{"good chunked", "POST /x HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := asked.Load()
			conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, tt.req)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := asked.Load() != before; got && !tt.asked {
				t.Error("the backend was asked")
			}
		})
	}
	if n := logs.Count("backend request failed"); n != 0 {
		t.Errorf("client faults were logged as backend failures:\n%s", logs.String())
	}
}

// TestClientBodyTimeout: a client that stops sending its request body gets
// 408 once Limits.ClientBodyTimeout passes, the backend's request is
// aborted, and one line is logged; a client pausing for less, or a backend
// slow to take the body, is not cut.
func TestClientBodyTimeout(t *testing.T) {
	verifyNoLeaks(t)
	const timeout = 300 * time.Millisecond
	var mu sync.Mutex
	var got []string // per backend request: bytes read and the read error
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow-backend":
			time.Sleep(3 * timeout) // the body waits in the proxy, whose client is done sending
		case "/early":
			// Without Connection: close net/http would read the body
			// before sending this (Apache 413s and 401s do not wait).
			w.Header().Set("Connection", "close")
			io.WriteString(w, "answered without reading the body")
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%d %v", n, err))
		mu.Unlock()
		fmt.Fprintf(w, "%d", n)
	}))
	t.Cleanup(backend.Close)
	var logs itest.SyncBuffer
	srv, _ := serveTLS(t, limitsHandler(t, backend.URL, Limits{ClientBodyTimeout: timeout}, zerolog.New(&logs)))
	clients := testClients(t, srv, 10*time.Second)
	backendSaw := func() []string {
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			seen := append([]string(nil), got...)
			got = nil
			mu.Unlock()
			if len(seen) > 0 || time.Now().After(deadline) {
				return seen
			}
		}
	}

	// net/http reads the rest of an HTTP/1.1 body after the handler, to
	// reuse the connection: a client that stops sending must not hold it.
	t.Run("h1 early answer, then a stalled body: connection closed", func(t *testing.T) {
		c, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second)) // bounds the test only
		io.WriteString(c, "POST /early HTTP/1.1\r\nHost: a.example\r\nContent-Length: 1000\r\n\r\n0123456789")
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		if res.StatusCode != 200 {
			t.Errorf("status %d, want the backend's 200", res.StatusCode)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("after the answer, with 990 body bytes never sent: %v, want the connection closed (EOF)", err)
		}
	})

	for _, c := range clients {
		t.Run(c.name+" stalled body gets 408", func(t *testing.T) {
			before := logs.Count("request body too slow")
			pr, pw := io.Pipe()
			defer pw.Close()
			go pw.Write(make([]byte, 10)) // then nothing
			req, _ := http.NewRequest("POST", srv.URL+"/up", pr)
			req.ContentLength = 1000
			res, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "did not arrive in time") {
				t.Errorf("status %d %q, want 408", res.StatusCode, body)
			}
			if c.name == "h1" && !res.Close {
				t.Error("HTTP/1.1 connection kept open after a 408 with the body half sent")
			}
			if seen := backendSaw(); len(seen) != 1 || strings.HasSuffix(seen[0], "<nil>") {
				t.Errorf("backend read %v, want one request whose body read failed", seen)
			}
			if n := logs.Count("request body too slow") - before; n != 1 {
				t.Errorf("%d log lines, want 1:\n%s", n, logs.String())
			}
		})
		t.Run(c.name+" pauses under the timeout pass", func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				for range 4 {
					pw.Write(make([]byte, 100))
					time.Sleep(timeout / 3)
				}
				pw.Close()
			}()
			res, err := c.client.Post(srv.URL+"/up", "application/octet-stream", pr)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(body) != "400" {
				t.Errorf("status %d %q, want 200 \"400\"", res.StatusCode, body)
			}
			backendSaw()
		})
		t.Run(c.name+" slow backend is not a slow client", func(t *testing.T) {
			const size = 8 << 20 // more than the socket buffers hold: the proxy waits for the backend
			res, err := c.client.Post(srv.URL+"/slow-backend", "application/octet-stream", bytes.NewReader(make([]byte, size)))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(body) != fmt.Sprint(size) {
				t.Errorf("status %d %q, want 200 %q", res.StatusCode, body, fmt.Sprint(size))
			}
			backendSaw()
		})
	}
}

// TestSendTimeout: a client that stops reading a large response is cut
// once Limits.SendTimeout passes (HTTP/1.1 connection closed, HTTP/2
// stream reset) and the backend's request is aborted; a backend pausing
// between writes longer than the timeout, to a client that reads, is not.
func TestSendTimeout(t *testing.T) {
	verifyNoLeaks(t)
	const timeout = 300 * time.Millisecond
	aborted := make(chan error, 4)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big": // far more than the socket buffers and HTTP/2 windows hold
			buf := make([]byte, 64<<10)
			for i := 0; i < 1024; i++ {
				if _, err := w.Write(buf); err != nil {
					aborted <- err
					return
				}
			}
			aborted <- nil
		case "/pauses": // a slow backend, as with server-sent events
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "tick %d\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(3 * timeout)
			}
		}
	}))
	t.Cleanup(backend.Close)
	srv, _ := serveTLS(t, limitsHandler(t, backend.URL, Limits{SendTimeout: timeout}, zerolog.Nop()))

	for _, c := range testClients(t, srv, 20*time.Second) {
		t.Run(c.name+" client that stops reading is cut", func(t *testing.T) {
			res, err := c.client.Get(srv.URL + "/big")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if _, err := io.ReadFull(res.Body, make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * timeout) // stop reading: the proxy's writes wait on us
			n, err := io.Copy(io.Discard, res.Body)
			if err == nil || n >= 63<<20 {
				t.Errorf("after the pause the rest was %d bytes, err %v; want the response cut short", n, err)
			}
			select {
			case err := <-aborted:
				if err == nil {
					t.Error("the backend wrote the whole response: its request was not aborted")
				}
			case <-time.After(10 * time.Second):
				t.Error("the backend's request was not aborted")
			}
		})
		t.Run(c.name+" slow backend is not a slow client", func(t *testing.T) {
			res, err := c.client.Get(srv.URL + "/pauses")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || string(body) != "tick 0\ntick 1\ntick 2\n" {
				t.Errorf("got %q, %v; want three ticks", body, err)
			}
		})
	}
}

// TestMisdirectedBodyTimeout: a 421 to an HTTP/1.1 POST whose body stalls
// is still answered, and the connection closed, within the body timeout:
// net/http reads the unread body before writing the response header.
func TestMisdirectedBodyTimeout(t *testing.T) {
	verifyNoLeaks(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(backend.Close)
	h := newHandler(t, backend.URL, backend.URL)
	h.SetLimits(Limits{ClientBodyTimeout: 300 * time.Millisecond})
	srv, _ := serveTLS(t, h)
	c, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // bounds the test only
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: b.example\r\nContent-Length: 1000\r\n\r\n0123456789")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer while the body stalls: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("status %d, want 421", res.StatusCode)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the 421: %v, want the connection closed (EOF)", err)
	}
}

// TestSendTimeoutHTTP2Socket: an HTTP/2 client that stops reading the
// socket itself (not just a stream's flow control) is cut by the server's
// WriteByteTimeout: a stream deadline's reset frame could never be written
// to that connection.
func TestSendTimeoutHTTP2Socket(t *testing.T) {
	verifyNoLeaks(t)
	const timeout = 300 * time.Millisecond
	aborted := make(chan error, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for range 1024 {
			if _, err := w.Write(buf); err != nil {
				aborted <- err
				return
			}
		}
		aborted <- nil
	}))
	t.Cleanup(backend.Close)
	h := newHandler(t, backend.URL)
	h.opts.ResponseHeaderTimeout = 5 * time.Second
	h.SetLimits(Limits{SendTimeout: timeout})
	srv, _ := serveTLSWith(t, h, ServerOptions{WriteByteTimeout: timeout, Logger: zerolog.Nop()})

	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := tls.DialWithDialer(d, "tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	fr.WriteWindowUpdate(0, 1<<31-1-65535)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "a.example"}, {":path", "/big"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
	// Never read: the server's writes fill the socket and stop moving.
	select {
	case err := <-aborted:
		if err == nil {
			t.Error("the backend wrote the whole 64 MiB response to a client that reads nothing")
		}
	case <-time.After(15 * time.Second):
		t.Error("the backend's request was not aborted: the stalled HTTP/2 connection is held")
	}
}
