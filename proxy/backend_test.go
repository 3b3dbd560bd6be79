package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// scriptedBackend is a plain TCP backend: answer is called for every
// request read on every connection, and returns false to stop reading that
// connection (which is then closed).
type scriptedBackend struct {
	ln       net.Listener
	accepted atomic.Int64
	requests atomic.Int64
	closed   atomic.Int64 // connections the backend saw end
	wg       sync.WaitGroup
}

func newScriptedBackend(t *testing.T, answer func(conn int64, req *http.Request, w *bufio.Writer) bool) *scriptedBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &scriptedBackend{ln: ln}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := b.accepted.Add(1)
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer b.closed.Add(1)
				defer c.Close()
				br, bw := bufio.NewReader(c), bufio.NewWriter(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b.requests.Add(1)
					body, _ := io.ReadAll(req.Body) // whole, and still readable by answer
					req.Body = io.NopCloser(bytes.NewReader(body))
					more := answer(n, req, bw)
					if bw.Flush() != nil || !more {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); b.wg.Wait() })
	return b
}

func (b *scriptedBackend) URL() string { return "http://" + b.ln.Addr().String() }

// okResponse writes a keep-alive 200 with body.
func okResponse(w *bufio.Writer, body string) {
	fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// do sends method url to site a.example through c and returns status and body.
func do(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Host = "a.example"
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%s %s body: %v", method, url, err)
	}
	return res.StatusCode, string(body)
}

// Bodiless GET, HEAD and OPTIONS share one keep-alive backend connection,
// from HTTP/1.1 and HTTP/2 clients alike, whatever the response framing.
func TestBackendReuse(t *testing.T) {
	b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/chunked":
			w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")
		case "/204":
			w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
		case "/304":
			w.WriteString("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")
		default:
			if req.Method == "HEAD" { // Content-Length of the GET, no body
				w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n")
				return true
			}
			okResponse(w, "hello "+req.Method)
		}
		return true
	})
	srv, _ := serveTLS(t, newHandler(t, b.URL()))
	for _, nc := range testClients(t, srv, 5*time.Second) {
		for i := 0; i < 5; i++ {
			if s, body := do(t, nc.client, "GET", srv.URL+"/"); s != 200 || body != "hello GET" {
				t.Errorf("%s GET: %d %q", nc.name, s, body)
			}
			if s, body := do(t, nc.client, "HEAD", srv.URL+"/"); s != 200 || body != "" {
				t.Errorf("%s HEAD: %d %q", nc.name, s, body)
			}
			if s, body := do(t, nc.client, "OPTIONS", srv.URL+"/"); s != 200 || body != "hello OPTIONS" {
				t.Errorf("%s OPTIONS: %d %q", nc.name, s, body)
			}
			if s, body := do(t, nc.client, "GET", srv.URL+"/chunked"); s != 200 || body != "abc" {
				t.Errorf("%s chunked: %d %q", nc.name, s, body)
			}
			if s, _ := do(t, nc.client, "GET", srv.URL+"/204"); s != 204 {
				t.Errorf("%s 204: %d", nc.name, s)
			}
			if s, _ := do(t, nc.client, "GET", srv.URL+"/304"); s != 304 {
				t.Errorf("%s 304: %d", nc.name, s)
			}
		}
	}
	if n := b.accepted.Load(); n != 1 {
		t.Errorf("backend connections = %d for %d sequential requests, want 1", n, b.requests.Load())
	}
	// A request with a body takes the same connection.
	req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("body"))
	req.Host = "a.example"
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("POST: %d", res.StatusCode)
	}
	if n := b.accepted.Load(); n != 1 {
		t.Errorf("backend connections = %d after a POST, want 1", n)
	}
}

// A pooled connection the backend closed while idle (Apache's
// KeepAliveTimeout) is not the client's problem: the request goes again on
// a new connection.
func TestBackendClosedIdleConnection(t *testing.T) {
	b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
		okResponse(w, "fresh")
		return false // answered as keep-alive, then closed
	})
	srv, _ := serveTLS(t, newHandler(t, b.URL()))
	for _, nc := range testClients(t, srv, 5*time.Second) {
		for i := 0; i < 5; i++ {
			if s, body := do(t, nc.client, "GET", srv.URL+"/"); s != 200 || body != "fresh" {
				t.Errorf("%s request %d: %d %q", nc.name, i, s, body)
			}
			time.Sleep(20 * time.Millisecond) // the backend's close reaches the pooled connection
		}
	}
	if got := b.requests.Load(); got != 10 {
		t.Errorf("backend answered %d requests, want 10 (one per request, none lost or doubled)", got)
	}
}

// Connections that cannot carry another request are not kept: the backend
// said Connection: close, sent more than its response, or the client left
// before the body's end.
func TestBackendConnectionNotReused(t *testing.T) {
	verifyNoLeaks(t)
	b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/close":
			w.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		case "/extra":
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
		case "/slow":
			// 64 KiB flows to the client (a server buffers less), then nothing.
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nfirst" + strings.Repeat("x", 64<<10))
		default:
			okResponse(w, "ok")
		}
		return true
	})
	srv, client := serveTLS(t, newHandler(t, b.URL()))
	for _, path := range []string{"/close", "/", "/extra", "/"} {
		if s, body := do(t, client, "GET", srv.URL+path); s != 200 || body != "ok" {
			t.Errorf("GET %s: %d %q", path, s, body)
		}
	}
	if n := b.accepted.Load(); n != 3 {
		t.Errorf("backend connections = %d, want 3 (new after /close and after /extra)", n)
	}

	req, _ := http.NewRequest("GET", srv.URL+"/slow", nil)
	req.Host = "a.example"
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = res.Body.Read(make([]byte, 5))
	res.Body.Close() // the client leaves mid-body
	closedBefore := b.closed.Load()
	deadline := time.Now().Add(5 * time.Second)
	for b.closed.Load() == closedBefore && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.closed.Load() == closedBefore {
		t.Error("the backend connection of an abandoned response was not closed")
	}
	if s, body := do(t, client, "GET", srv.URL+"/"); s != 200 || body != "ok" {
		t.Errorf("after the abandoned response: %d %q", s, body)
	}
}

// 1xx responses (103 Early Hints) reach the client before the final one.
func TestBackendEarlyHints(t *testing.T) {
	b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
		w.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
		okResponse(w, "page")
		return true
	})
	srv, _ := serveTLS(t, newHandler(t, b.URL()))
	for _, nc := range testClients(t, srv, 5*time.Second) {
		var hints []string
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.Host = "a.example"
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
				return nil
			},
		}))
		res, err := nc.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "page" {
			t.Errorf("%s: %d %q", nc.name, res.StatusCode, body)
		}
		if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
			t.Errorf("%s: 1xx seen by the client = %q", nc.name, hints)
		}
	}
}

// A backend that does not answer in time gets 504, once: a timeout is not
// a closed idle connection, so the request is not sent again. Headers over
// the limit and an unasked 101 get 502; many 1xx are passed on.
func TestBackendFailures(t *testing.T) {
	b := newScriptedBackend(t, func(conn int64, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/stall":
			time.Sleep(600 * time.Millisecond) // the handler's header timeout is 300 ms
			return false
		case "/huge":
			w.WriteString("HTTP/1.1 200 OK\r\n")
			for i := 0; i < 1100; i++ {
				fmt.Fprintf(w, "X-H%d: %s\r\n", i, strings.Repeat("x", 1000))
			}
			w.WriteString("Content-Length: 0\r\n\r\n")
		case "/1xx":
			for i := 0; i < 10; i++ {
				w.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
			}
			okResponse(w, "late")
		case "/101":
			w.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		default:
			okResponse(w, "ok")
		}
		return true
	})
	srv, client := serveTLS(t, newHandler(t, b.URL()))
	if s, _ := do(t, client, "GET", srv.URL+"/"); s != 200 { // leaves a pooled connection
		t.Fatalf("GET /: %d", s)
	}
	before := b.requests.Load()
	if s, _ := do(t, client, "GET", srv.URL+"/stall"); s != 504 {
		t.Errorf("stalled backend: %d, want 504", s)
	}
	if n := b.requests.Load() - before; n != 1 {
		t.Errorf("the stalled request reached the backend %d times, want 1", n)
	}
	if s, body := do(t, client, "GET", srv.URL+"/1xx"); s != 200 || body != "late" {
		t.Errorf("GET /1xx: %d %q", s, body)
	}
	for _, path := range []string{"/huge", "/101"} {
		if s, _ := do(t, client, "GET", srv.URL+path); s != 502 {
			t.Errorf("GET %s: %d, want 502", path, s)
		}
	}
	if s, body := do(t, client, "GET", srv.URL+"/"); s != 200 || body != "ok" {
		t.Errorf("afterwards: %d %q", s, body)
	}
}

// The pool keeps at most max_idle_conns idle connections per backend.
func TestBackendPoolLimit(t *testing.T) {
	gate := make(chan struct{})
	var arrived atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-gate
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	h, err := New(Options{Sites: []Site{{Backend: u}}, Route: route, MaxIdleConns: 4, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv, client := serveTLS(t, h)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Host = "a.example"
			if res, err := client.Do(req); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); arrived.Load() < 10 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := arrived.Load(); n != 10 {
		t.Fatalf("%d of 10 concurrent requests reached the backend", n)
	}
	close(gate)
	wg.Wait()
	_, n, _ := h.backend.pool(u.Host).counts()
	if n == 0 || n > 4 {
		t.Errorf("idle backend connections = %d, want 1..4", n)
	}
}

const stray = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"

// A backend that sends more than its response (a body longer than its
// Content-Length, a body on a HEAD/204/304, a duplicate response) does not
// have the surplus read as the answer to the next request. A body over
// 4 KiB is read straight from the socket (bufio passes large reads
// through), so the surplus is still in the kernel, not in the buffer, when
// the connection goes back to the pool: the peek before reuse finds it.
func TestBackendStrayBytesAfterLargeBody(t *testing.T) {
	for _, name := range []string{"backendClient"} {
		t.Run(name, func(t *testing.T) {
			b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
				if req.URL.Path == "/big" {
					body := strings.Repeat("b", 8192)
					// One write: response and surplus land in the socket together.
					w.Flush()
					w.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 8192\r\n\r\n" + body + stray))
					return true
				}
				okResponse(w, "ok")
				return true
			})
			h := newHandler(t, b.URL())
			srv, client := serveTLS(t, h)
			if s, body := do(t, client, "GET", srv.URL+"/big"); s != 200 || len(body) != 8192 {
				t.Fatalf("GET /big: %d, %d bytes", s, len(body))
			}
			if s, body := do(t, client, "GET", srv.URL+"/"); s != 200 || body != "ok" {
				t.Errorf("next request got %d %q, want 200 \"ok\": the previous response's surplus was read as its answer", s, body)
			}
		})
	}
}

// Bytes the backend sends on a connection after its response, while it
// idles, are not the next client's answer: a response's surplus arriving
// late (a HEAD answered with a body flushed separately, say), or the 408
// some servers send before closing an idle keep-alive connection. The
// connection is dropped and the request goes on a new one, as
// http.Transport's idle read loop does (is408Message for the latter).
func TestBackendUnsolicitedWhileIdle(t *testing.T) {
	for _, tc := range []struct {
		name, after string
		closes      bool // the backend closes the connection a second later
	}{
		{"late surplus", stray, false},
		{"408 before closing", "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", true},
	} {
		{
			t.Run(tc.name, func(t *testing.T) {
				b := newScriptedBackend(t, func(conn int64, req *http.Request, w *bufio.Writer) bool {
					okResponse(w, fmt.Sprint("conn ", conn))
					w.Flush()
					time.Sleep(20 * time.Millisecond)
					w.WriteString(tc.after)
					if !tc.closes {
						return true
					}
					w.Flush()
					time.Sleep(time.Second)
					return false
				})
				h := newHandler(t, b.URL())
				srv, client := serveTLS(t, h)
				if s, body := do(t, client, "GET", srv.URL+"/"); s != 200 || body != "conn 1" {
					t.Fatalf("first: %d %q", s, body)
				}
				time.Sleep(50 * time.Millisecond) // what the backend sent has arrived
				if s, body := do(t, client, "GET", srv.URL+"/"); s != 200 || body != "conn 2" {
					t.Errorf("second: %d %q, want 200 \"conn 2\" from a new connection", s, body)
				}
			})
		}
	}
}

// HTTP/1.0 answers with and without keep-alive, close-delimited bodies and
// trailers come through as with http.Transport.
func TestBackendFramingParity(t *testing.T) {
	{
		{
			b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
				switch req.URL.Path {
				case "/10close":
					w.WriteString("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
					return true // framing says close; we keep it open to see who closes
				case "/10ka":
					w.WriteString("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
				case "/eof":
					w.WriteString("HTTP/1.1 200 OK\r\n\r\nuntil-eof")
					return false
				case "/trailer":
					w.WriteString("HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n")
				default:
					okResponse(w, "ok")
				}
				return true
			})
			h := newHandler(t, b.URL())
			srv, _ := serveTLS(t, h)
			for _, nc := range testClients(t, srv, 5*time.Second) {
				for _, p := range []string{"/10close", "/", "/10ka", "/", "/eof", "/"} {
					want := "ok"
					if p == "/eof" {
						want = "until-eof"
					}
					if s, body := do(t, nc.client, "GET", srv.URL+p); s != 200 || body != want {
						t.Errorf("%s %s: %d %q", nc.name, p, s, body)
					}
				}
				req, _ := http.NewRequest("GET", srv.URL+"/trailer", nil)
				req.Host = "a.example"
				res, err := nc.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.ReadAll(res.Body)
				res.Body.Close()
				if res.Trailer.Get("X-T") != "v" {
					t.Errorf("%s trailer = %q", nc.name, res.Trailer)
				}
			}
			t.Logf("backend connections: %d", b.accepted.Load())
		}
	}
}

// The client leaving while the backend has not answered: 499, as with
// http.Transport.
func TestBackendClientGone499(t *testing.T) {
	for _, name := range []string{"h1", "h2"} {
		t.Run(name, func(t *testing.T) {
			b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
				if req.URL.Path == "/slow" {
					time.Sleep(250 * time.Millisecond)
				}
				okResponse(w, "ok")
				return true
			})
			h := newHandler(t, b.URL())
			h.SetLimits(Limits{ReadTimeout: time.Second})
			status := make(chan int, 4)
			h.opts.Observe = func(e *Entry) { status <- e.Status }
			srv, _ := serveTLS(t, h)
			client := testClients(t, srv, 5*time.Second)[map[string]int{"h1": 0, "h2": 1}[name]].client
			do(t, client, "GET", srv.URL+"/") // pooled connection
			<-status
			ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
			req.Host = "a.example"
			if res, err := client.Do(req); err == nil {
				res.Body.Close()
				t.Fatal("no error")
			}
			if s := <-status; s != 499 {
				t.Errorf("status %d, want 499", s)
			}
		})
	}
}

// An idle connection the backend closes is closed here too within
// sweepEvery, with no request to find it: no socket lingers half-closed.
func TestBackendSweep(t *testing.T) {
	b := newScriptedBackend(t, func(_ int64, req *http.Request, w *bufio.Writer) bool {
		okResponse(w, "ok")
		return false // keep-alive answer, then the backend closes
	})
	h := newHandler(t, b.URL())
	srv, client := serveTLS(t, h)
	if s, body := do(t, client, "GET", srv.URL+"/"); s != 200 || body != "ok" {
		t.Fatalf("GET: %d %q", s, body)
	}
	idle := func() int {
		_, n, _ := h.backend.pool(b.ln.Addr().String()).counts()
		return n
	}
	if idle() != 1 {
		t.Fatalf("idle connections after the request = %d, want 1", idle())
	}
	deadline := time.Now().Add(5 * sweepEvery)
	for idle() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := idle(); n != 0 {
		t.Errorf("%d idle connections the backend closed are still pooled after %v", n, 5*sweepEvery)
	}
}
