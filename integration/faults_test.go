package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// fakeBackend is a backend that misbehaves on purpose: each request's path
// picks what it does to the connection. It counts its open connections, so
// a test can prove tlsfront let go of every one.
type fakeBackend struct {
	ln      net.Listener
	open    atomic.Int64
	wg      sync.WaitGroup
	release chan struct{} // closed at clean-up: stalled handlers return
}

// fakeBehaviour writes the answer to one request; it returns false to close
// the connection afterwards.
type fakeBehaviour func(c net.Conn, br *bufio.Reader, req *http.Request) bool

func startFakeBackend(t testing.TB, routes map[string]fakeBehaviour) *fakeBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBackend{ln: ln, release: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.open.Add(1)
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer b.open.Add(-1)
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					key := req.URL.Path
					if i := strings.Index(key[1:], "/"); i >= 0 {
						key = key[:i+1] // "/reset-mid/h1" -> "/reset-mid"
					}
					fn := routes[key]
					if fn == nil {
						fn = rawAnswer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
					}
					if !fn(c, br, req) {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		close(b.release)
		ln.Close()
		b.wg.Wait()
	})
	return b
}

func (b *fakeBackend) URL() string { return "http://" + b.ln.Addr().String() }

// answer writes raw after draining the request body, then closes.
func rawAnswer(raw string) fakeBehaviour {
	return func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		drainBody(req.Body)
		io.WriteString(c, raw)
		return false
	}
}

// reset closes the connection with a TCP RST.
func resetConn(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// stallUntilGone blocks until the peer closes c or the test ends.
func (b *fakeBackend) stallUntilGone(c net.Conn) {
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, c); close(done) }()
	select {
	case <-done:
	case <-b.release:
	}
}

// fault is one backend misbehaviour and what the client must get.
type backendFault struct {
	path string
	// status is the status the client must get; 0 = the response is cut
	// short: the request fails, or its body does, never a complete body.
	status int
	// logs is how many warnings tlsfront must log for the request.
	logs int
	// body, when set, is the complete body the client must get.
	body string
}

// TestBackendFaults drives every backend misbehaviour over HTTP/1.1 and
// HTTP/2: each gives the client a clean 502/504 or a response cut short
// (never passed off as complete), is logged once, and afterwards tlsfront
// holds no extra goroutine, file or backend connection.
func TestBackendFaults(t *testing.T) {
	t.Parallel()
	var b *fakeBackend
	b = startFakeBackend(t, map[string]fakeBehaviour{
		"/reset-before": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool { resetConn(c); return false },
		"/close-before": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool { return false },
		"/reset-mid": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100))
			time.Sleep(100 * time.Millisecond)
			resetConn(c)
			return false
		},
		"/reset-mid-chunked": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n"+strings.Repeat("x", 100)+"\r\n")
			time.Sleep(100 * time.Millisecond)
			resetConn(c)
			return false
		},
		"/close-mid-chunked": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n"+strings.Repeat("x", 100)+"\r\n")
			return false // FIN without the last chunk
		},
		"/never": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool { b.stallUntilGone(c); return false },
		"/stall-after-headers": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100))
			b.stallUntilGone(c)
			return false
		},
		"/huge-headers":    rawAnswer("HTTP/1.1 200 OK\r\nX-Huge: " + strings.Repeat("h", 2<<20) + "\r\nContent-Length: 2\r\n\r\nok"),
		"/bad-header-line": rawAnswer("HTTP/1.1 200 OK\r\nThis is not a header\r\nContent-Length: 2\r\n\r\nok"),
		"/bad-status":      rawAnswer("HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok"),
		"/http09":          rawAnswer("hello, this is HTTP/0.9 garbage\n"),
		"/two-lengths":     rawAnswer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"),
		"/cl-and-te":       rawAnswer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
		"/some-1xx":        rawAnswer(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 3) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		"/endless-1xx": func(c net.Conn, _ *bufio.Reader, _ *http.Request) bool {
			for { // until tlsfront gives up and closes
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"); err != nil {
					return false
				}
				time.Sleep(time.Millisecond)
			}
		},
		"/continue": func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			n, _ := drainBody(req.Body)
			body := fmt.Sprintf("got %d", n)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			return false
		},
		"/continue-refused": func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
			io.WriteString(c, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return false
		},
	})
	f := startHostile(t, hostileOptions{Backend: b.URL(), ResponseHeaderTimeout: "1s", ReadTimeout: "1s"})

	faults := []backendFault{
		{"/reset-before", 502, 1, ""},
		{"/close-before", 502, 1, ""},
		{"/reset-mid", 0, 1, ""},
		{"/reset-mid-chunked", 0, 1, ""},
		{"/close-mid-chunked", 0, 1, ""},
		{"/never", 504, 1, ""},
		{"/stall-after-headers", 0, 1, ""},
		{"/huge-headers", 502, 1, ""},
		{"/bad-header-line", 502, 1, ""},
		{"/bad-status", 502, 1, ""},
		{"/http09", 502, 1, ""},
		{"/two-lengths", 502, 1, ""},
		{"/cl-and-te", 502, 1, ""}, // both framings: refused, the connection dropped (was: chunked won)
		{"/some-1xx", 200, 0, "ok"},
		{"/endless-1xx", 504, 1, ""}, // bounded by response_header_timeout
	}

	// Baseline after a first request: the binary's steady state. The
	// HTTP/1.1 client opens a connection per request: Go's client retries
	// an idempotent request whose reused connection closed early, which
	// would send some faults twice.
	h1, h2 := f.client(false), f.client(true)
	h1.Transport.(*http.Transport).DisableKeepAlives = true
	for _, c := range []*http.Client{h1, h2} {
		if res, err := c.Get(f.url("/warm-up")); err == nil {
			drainBody(res.Body)
			res.Body.Close()
		}
		c.CloseIdleConnections()
	}
	baseGoroutines, baseFDs := settleCounts(t, f, -1, -1)

	for _, proto := range []string{"h1", "h2"} {
		client := h1
		if proto == "h2" {
			client = h2
		}
		for _, ft := range faults {
			t.Run(strings.TrimPrefix(ft.path, "/")+"/"+proto, func(t *testing.T) {
				path := ft.path + "/" + proto
				res, err := client.Get(f.url(path))
				var body []byte
				if err == nil {
					body, err = io.ReadAll(res.Body)
					res.Body.Close()
					if res.Proto != map[string]string{"h1": "HTTP/1.1", "h2": "HTTP/2.0"}[proto] {
						t.Errorf("answered over %s", res.Proto)
					}
				}
				switch {
				case ft.status == 0:
					if err == nil {
						t.Errorf("got a complete %d response of %d bytes, want it cut short", res.StatusCode, len(body))
					}
				case err != nil:
					t.Errorf("got %v, want a clean %d", err, ft.status)
				case res.StatusCode != ft.status:
					t.Errorf("status %d, want %d", res.StatusCode, ft.status)
				case ft.body != "" && string(body) != ft.body:
					t.Errorf("body %q, want %q", body, ft.body)
				}
				if got := warningsFor(t, f, path, ft.logs); got != ft.logs {
					t.Errorf("%d warnings logged for %s, want %d", got, path, ft.logs)
				}
			})
		}
	}

	t.Run("100-continue", func(t *testing.T) {
		for _, tc := range []struct {
			path, want string
			status     int
		}{{"/continue/x", "got 5", 200}, {"/continue-refused/x", "", 417}} {
			for name, client := range map[string]*http.Client{"h1": h1, "h2": h2} {
				req, _ := http.NewRequest("POST", f.url(tc.path), strings.NewReader("hello"))
				req.Header.Set("Expect", "100-continue")
				res, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", name, tc.path, err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != tc.status || string(body) != tc.want {
					t.Errorf("%s %s: %d %q, want %d %q", name, tc.path, res.StatusCode, body, tc.status, tc.want)
				}
			}
		}
	})

	t.Run("no leaks", func(t *testing.T) {
		h1.CloseIdleConnections()
		h2.CloseIdleConnections()
		g, fds := settleCounts(t, f, baseGoroutines, baseFDs)
		if g > baseGoroutines || fds > baseFDs {
			t.Errorf("after the faults tlsfront has %d goroutines and %d open files, before %d and %d", g, fds, baseGoroutines, baseFDs)
			// Which files: sockets show with their peers and states.
			out, _ := exec.Command("sh", "-c", fmt.Sprintf("ls -l /proc/%d/fd; ss -tanp | grep 'pid=%d,'", f.PID, f.PID)).CombinedOutput()
			t.Logf("tlsfront's open files and sockets:\n%s", out)
		}
		if n := b.open.Load(); n != 0 {
			t.Errorf("the backend still has %d connections from tlsfront", n)
		}
		t.Logf("tlsfront: %d goroutines, %d files (baseline %d, %d)", g, fds, baseGoroutines, baseFDs)
	})
}

// settle waits up to 10 s for tlsfront's goroutine and open-file counts to
// come down to at most the given ones (-1: just let them settle for a
// moment) and returns them.
func settleCounts(t *testing.T, f *hostileFront, goroutines, fds int) (int, int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, _ := scrapeMetric(t, f.Metrics, "go_goroutines")
		n := openFDs(t, f.PID)
		if goroutines < 0 {
			time.Sleep(300 * time.Millisecond)
			g2, _ := scrapeMetric(t, f.Metrics, "go_goroutines")
			if g2 == g && openFDs(t, f.PID) == n {
				return int(g), n
			}
		} else if int(g) <= goroutines && n <= fds || time.Now().After(deadline) {
			return int(g), n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// warnings returns how many warning or error lines tlsfront logged for
// path, waiting up to 3 s for want of them to appear (then a moment for
// any more).
func warningsFor(t *testing.T, f *hostileFront, path string, want int) int {
	t.Helper()
	count := func() int {
		n := 0
		for _, m := range f.LogLines() {
			if (m["level"] == "warn" || m["level"] == "error") && m["path"] == path {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(3 * time.Second)
	for count() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	return count()
}

// TestBackendRefused is the refused-connection fault with the same
// checks: 502 on both protocols, one warning each, nothing left behind.
func TestBackendRefused(t *testing.T) {
	t.Parallel()
	f := startHostile(t, hostileOptions{Backend: fmt.Sprintf("http://127.0.0.1:%d", itest.ClosedPort(t))})
	base, baseFDs := settleCounts(t, f, -1, -1)
	for _, h2 := range []bool{false, true} {
		c := f.client(h2)
		path := fmt.Sprintf("/refused/%v", h2)
		res, err := c.Get(f.url(path))
		if err != nil {
			t.Fatalf("h2=%v: %v", h2, err)
		}
		drainBody(res.Body)
		res.Body.Close()
		if res.StatusCode != 502 {
			t.Errorf("h2=%v: status %d, want 502", h2, res.StatusCode)
		}
		if n := warningsFor(t, f, path, 1); n != 1 {
			t.Errorf("h2=%v: %d warnings, want 1", h2, n)
		}
		c.CloseIdleConnections()
	}
	if g, fds := settleCounts(t, f, base, baseFDs); g > base || fds > baseFDs {
		t.Errorf("after the requests: %d goroutines, %d files; before %d, %d", g, fds, base, baseFDs)
	}
}
