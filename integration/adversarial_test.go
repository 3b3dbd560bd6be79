package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tlsfront/internal/itest"
)

// timeGets makes n sequential GETs of target with c and returns how long
// each took; any failure fails the test.
func timeGets(t *testing.T, c *http.Client, url string, n int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		res, err := c.Get(url)
		if err != nil {
			t.Fatalf("normal client, request %d: %v", i, err)
		}
		drainBody(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("normal client, request %d: status %d", i, res.StatusCode)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// timeGetsUntil is timeGets for at most n requests, stopping at deadline.
func timeGetsUntil(t *testing.T, c *http.Client, url string, n int, deadline time.Time) []time.Duration {
	t.Helper()
	var out []time.Duration
	for len(out) < n && time.Now().Before(deadline) {
		out = append(out, timeGets(t, c, url, 1)...)
	}
	return out
}

// attackStats counts what the attackers saw.
type attackStats struct {
	connects  atomic.Int64 // connections set up (TLS done, or TCP for stalled handshakes)
	cut       atomic.Int64 // closed by tlsfront while still attacking
	completed atomic.Int64 // trickles that reached the backend: the attack was not cut
	dialFails atomic.Int64 // retried
}

// dialRetry dials until it succeeds or stop is closed: thousands of
// simultaneous connects can overflow the listen backlog.
func dialRetry(dial func() (net.Conn, error), st *attackStats, stop <-chan struct{}) net.Conn {
	for {
		c, err := dial()
		if err == nil {
			return c
		}
		st.dialFails.Add(1)
		select {
		case <-stop:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// slowHeaders is one slowloris attacker: it sends a request line and then
// one header byte every tick, far too slowly to finish before tlsfront's
// header timeout, until tlsfront cuts it or stop is closed.
func slowHeaders(addr string, tick time.Duration, st *attackStats, stop <-chan struct{}) {
	c := dialRetry(func() (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, clientTLS("http/1.1"))
	}, st, stop)
	if c == nil {
		return
	}
	defer c.Close()
	st.connects.Add(1)
	// A cut is the connection closed, or closed after tlsfront's own 400
	// for the incomplete request (Go answers one when the deadline strikes
	// mid-header); a proxied answer means the trickle got through.
	closed := make(chan bool, 1) // true: the request reached the backend
	go func() {
		b := make([]byte, 12)
		n, _ := io.ReadFull(c, b)
		closed <- n == len(b) && string(b) != "HTTP/1.1 400" && string(b) != "HTTP/1.1 408"
	}()
	io.WriteString(c, "GET /?slowloris HTTP/1.1\r\nHost: localhost\r\n")
	trickle := []byte(strings.Repeat("X-Slow: b\r\n", 200))
	t := time.NewTicker(tick)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case got := <-closed:
			if got {
				st.completed.Add(1)
			} else {
				st.cut.Add(1)
			}
			return
		case <-t.C:
			if i < len(trickle) {
				c.Write(trickle[i : i+1])
			} else {
				io.WriteString(c, "\r\n") // reached only if the timeout does not work
			}
		}
	}
}

// stalledHandshake is one attacker that opens a TCP connection and sends
// the first two bytes of a TLS handshake record, then nothing, until
// tlsfront cuts it or stop is closed.
func stalledHandshake(addr string, st *attackStats, stop <-chan struct{}) {
	c := dialRetry(func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 10*time.Second) }, st, stop)
	if c == nil {
		return
	}
	defer c.Close()
	st.connects.Add(1)
	c.Write([]byte{0x16, 0x03})
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(closed)
	}()
	select {
	case <-stop:
	case <-closed:
		st.cut.Add(1)
	}
}

// TestSlowloris holds slow-header and stalled-handshake connections open
// (200 + 200; 1,000 + 1,000 with TLSFRONT_STRESS=1) while a normal client
// keeps making requests: every one of them is served (its p50/p99 against
// its own baseline, measured in the same run, are logged as the figure
// RELIABILITY.md records), and every slow connection is cut by
// server.read_header_timeout (8 s here; 20 s under stress, so that the
// thousands are all in place before the first is cut); none gets a
// response from the backend.
func TestSlowloris(t *testing.T) {
	raiseNoFile(t)
	apache := itest.StartApache(t, itest.ApacheOptions{})
	timeout := time.Duration(stressSize(8, 20)) * time.Second
	f := startHostile(t, hostileOptions{Backend: apache.URL, ReadHeaderTimeout: timeout.String(), NoAccessLog: true})
	slow, stalled := stressSize(200, 1000), stressSize(200, 1000)
	const samples = 1000

	normal := f.client(false)
	defer normal.CloseIdleConnections()
	timeGets(t, normal, f.url("/?warm-up"), 100)
	base := timeGets(t, normal, f.url("/?baseline"), samples)

	var st, hs attackStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	attackStart := time.Now()
	for i := 0; i < slow; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); slowHeaders(f.HTTPSAddr, 500*time.Millisecond, &st, stop) }()
	}
	for i := 0; i < stalled; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); stalledHandshake(f.HTTPSAddr, &hs, stop) }()
	}
	defer func() { close(stop); wg.Wait() }()
	for st.connects.Load() < int64(slow) || hs.connects.Load() < int64(stalled) {
		if time.Since(attackStart) > timeout/2 {
			t.Fatalf("within half the header timeout, only %d slow + %d stalled of %d + %d attackers connected",
				st.connects.Load(), hs.connects.Load(), slow, stalled)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ramp := time.Since(attackStart)
	time.Sleep(500 * time.Millisecond) // the attack's handshakes are done; now it trickles
	held := openFDs(t, f.PID)

	// The normal client keeps making requests until just before the first
	// attacker can be cut (they all connected after attackStart), so the
	// whole measurement sees the whole attack. Every request must succeed;
	// the latency is a figure, reported here and recorded in
	// RELIABILITY.md, not asserted: tests never judge wall-clock times on a
	// shared machine (in CI other packages run beside this one).
	attack := timeGetsUntil(t, normal, f.url("/?under-attack"), 3*samples, attackStart.Add(timeout-time.Second))
	p99b, p99a := percentile(base, 99), percentile(attack, 99)
	t.Logf("normal client: baseline p50 %v p99 %v over %d requests; under attack p50 %v p99 %v over %d requests: p99 %.2fx the baseline (the bar: 2x)",
		percentile(base, 50), p99b, len(base), percentile(attack, 50), p99a, len(attack), float64(p99a)/float64(p99b))
	if len(attack) == 0 {
		t.Errorf("the attackers took the whole header timeout to connect: no request was measured under attack")
	}
	if cut := st.cut.Load() + hs.cut.Load(); cut > 0 {
		t.Errorf("%d attackers were cut while the latency was measured: cut before the %v header timeout", cut, timeout)
	}
	measured := time.Since(attackStart)

	// Every attacker is cut by the header timeout.
	for deadline := time.Now().Add(timeout + 10*time.Second); st.cut.Load()+st.completed.Load() < int64(slow) || hs.cut.Load() < int64(stalled); {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("attack: %d slow-header + %d stalled-handshake connections set up in %v (%d dial retries), tlsfront holding %d files; latency measured within %v",
		st.connects.Load(), hs.connects.Load(), ramp.Round(time.Millisecond), st.dialFails.Load()+hs.dialFails.Load(), held, measured.Round(time.Millisecond))
	t.Logf("cut by the %v header timeout: %d of %d slow headers (%d reached the backend), %d of %d stalled handshakes",
		timeout, st.cut.Load(), slow, st.completed.Load(), hs.cut.Load(), stalled)
	if n := st.completed.Load(); n != 0 {
		t.Errorf("%d slow-header connections reached the backend: their trickle was not cut", n)
	}
	if n := st.cut.Load(); n < int64(slow) {
		t.Errorf("only %d of %d slow-header connections were cut", n, slow)
	}
	if n := hs.cut.Load(); n < int64(stalled) {
		t.Errorf("only %d of %d stalled handshakes were cut", n, stalled)
	}
}

// TestIdleConnections holds 1,000 (10,000 with TLSFRONT_STRESS=1) idle
// keep-alive TLS connections, each after one request: tlsfront's memory
// per connection stays bounded and new clients are still served.
func TestIdleConnections(t *testing.T) {
	raiseNoFile(t)
	apache := itest.StartApache(t, itest.ApacheOptions{})
	f := startHostile(t, hostileOptions{Backend: apache.URL, NoAccessLog: true})
	n := stressSize(1000, 10000)

	warm := f.client(false)
	timeGets(t, warm, f.url("/?warm-up"), 20)
	warm.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	rss0, fds0 := rssKB(t, f.PID), openFDs(t, f.PID)

	conns := make([]*tls.Conn, n)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", f.HTTPSAddr, clientTLS("http/1.1"))
				if err != nil {
					failed.Add(1)
					continue
				}
				conns[i] = c
				io.WriteString(c, "GET /?idle HTTP/1.1\r\nHost: localhost\r\n\r\n")
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || res.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				drainBody(res.Body)
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if k := failed.Load(); k > 0 {
		t.Fatalf("%d of %d idle connections could not be set up", k, n)
	}
	time.Sleep(time.Second)
	rss1, fds1 := rssKB(t, f.PID), openFDs(t, f.PID)
	perConn := float64(rss1-rss0) / float64(n)
	t.Logf("%d idle keep-alive connections: tlsfront RSS %d -> %d KiB (%.1f KiB/conn), open files %d -> %d",
		n, rss0, rss1, perConn, fds0, fds1)
	if fds1-fds0 < n {
		t.Errorf("tlsfront holds %d more files, want at least %d: the connections were not all held", fds1-fds0, n)
	}
	if perConn > 64 {
		t.Errorf("%.1f KiB of RSS per idle connection, want at most 64", perConn)
	}

	for _, h2 := range []bool{false, true} {
		c := f.client(h2)
		timeGets(t, c, f.url("/?new-client"), 10)
		c.CloseIdleConnections()
	}
}

// TestMaxConnections fills server.max_connections and checks the refusal:
// connections past it are closed at once, one log line covers a burst,
// the metric counts them, the accept loop burns no CPU while full, and a
// freed slot is usable again.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{})
	const max = 50
	f := startHostile(t, hostileOptions{Backend: apache.URL, MaxConnections: max})
	time.Sleep(200 * time.Millisecond) // the harness's readiness handshake has closed

	var held []*tls.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	hold := func() error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", f.HTTPSAddr, clientTLS("http/1.1"))
		if err != nil {
			return err
		}
		io.WriteString(c, "GET /?held HTTP/1.1\r\nHost: localhost\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			return err
		}
		drainBody(res.Body)
		held = append(held, c)
		return nil
	}
	for i := 0; i < max; i++ {
		if err := hold(); err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, max, err)
		}
	}
	const extra = 20
	for i := 0; i < extra; i++ {
		if err := hold(); err == nil {
			t.Fatalf("connection %d past max_connections = %d was served", i+1, max)
		}
	}
	lines := 0
	for _, m := range f.LogLines() {
		if strings.Contains(fmt.Sprint(m["message"]), "max_connections reached") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("%d refusals logged %d lines, want 1 (rate-limited)", extra, lines)
	}

	t.Run("no accept-loop spin while full", func(t *testing.T) {
		before := cpuTicks(t, f.PID)
		c, err := net.Dial("tcp", f.HTTPSAddr) // one more, left open by us
		if err == nil {
			defer c.Close()
		}
		time.Sleep(2 * time.Second)
		used := cpuTicks(t, f.PID) - before
		t.Logf("tlsfront used %d CPU ticks (1/100 s) in 2 s at the limit", used)
		if used > 20 {
			t.Errorf("tlsfront used %d CPU ticks (1/100 s) in 2 s at the limit, want almost none", used)
		}
	})

	t.Run("metric", func(t *testing.T) {
		v, ok := scrapeMetric(t, f.Metrics, "tlsfront_connections_refused_total")
		if !ok {
			t.Fatal("tlsfront_connections_refused_total is not exported (server.Start must call metrics.WatchConnLimit)")
		}
		if v < extra {
			t.Errorf("tlsfront_connections_refused_total = %v, want at least %d", v, extra)
		}
	})

	t.Run("freed slots are usable", func(t *testing.T) {
		for _, c := range held[:10] {
			c.Close()
		}
		held = held[10:]
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < 10; i++ {
			if err := hold(); err != nil {
				t.Fatalf("after freeing 10 slots, connection %d: %v", i+1, err)
			}
		}
		if err := hold(); err == nil {
			t.Error("the 11th connection after freeing 10 slots was served")
		}
	})
}

// bodyBackend is a backend for large bodies: POST /up reads the body and
// answers its length and SHA-256; GET /down?n=N sends N pseudo-random bytes
// (chunked when chunked=1), with their SHA-256 in a trailer-free header
// computed ahead.
func bodyBackend(t *testing.T) (url string, asked, complete *atomic.Int64) {
	t.Helper()
	asked, complete = new(atomic.Int64), new(atomic.Int64)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		switch r.URL.Path {
		case "/up":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			complete.Add(1)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		case "/down":
			var n int64
			fmt.Sscan(r.URL.Query().Get("n"), &n)
			if r.URL.Query().Get("chunked") != "1" {
				w.Header().Set("Content-Length", fmt.Sprint(n))
			}
			io.Copy(w, io.LimitReader(newBodyPattern(), n))
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), asked, complete
}

// pattern is a cheap deterministic byte stream.
type bodyPattern struct{ r *rand.ChaCha8 }

func newBodyPattern() io.Reader { return bodyPattern{rand.NewChaCha8([32]byte{1})} }

func (p bodyPattern) Read(b []byte) (int, error) { return p.r.Read(b) }

// sumOf returns the length and SHA-256 of the first n pattern bytes.
func patternSum(n int64) string {
	h := sha256.New()
	io.Copy(h, io.LimitReader(newBodyPattern(), n))
	return fmt.Sprintf("%d %x", n, h.Sum(nil))
}

// rssSampler records the peak RSS of pid until stopped.
func rssSampler(t *testing.T, pid int) (stop func() (peakKB int)) {
	t.Helper()
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if v := int64(rssKB(t, pid)); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() int { close(done); <-finished; return int(peak.Load()) }
}

// TestLargeBodies streams 64 MiB (1 GiB with TLSFRONT_STRESS=1) up and
// down through tlsfront over HTTP/1.1 and HTTP/2, with and without a
// declared length: the bytes arrive intact and tlsfront's RSS stays flat.
// Then proxy.max_body_bytes answers 413.
func TestLargeBodies(t *testing.T) {
	backend, asked, complete := bodyBackend(t)
	f := startHostile(t, hostileOptions{Backend: backend, NoAccessLog: true})
	n := int64(stressSize(64, 1024)) << 20
	want := patternSum(n)

	warm := f.client(false)
	timeGets(t, warm, f.url("/down?n=1000"), 5)
	warm.CloseIdleConnections()
	rss0 := rssKB(t, f.PID)
	stop := rssSampler(t, f.PID)
	for _, h2 := range []bool{false, true} {
		c := f.client(h2)
		for _, chunked := range []bool{false, true} {
			name := fmt.Sprintf("h2=%v chunked=%v", h2, chunked)
			var body io.Reader = io.LimitReader(newBodyPattern(), n)
			if chunked {
				body = struct{ io.Reader }{body}
			}
			req, _ := http.NewRequest("POST", f.url("/up"), body)
			if !chunked {
				req.ContentLength = n
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s upload: %v", name, err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(got) != want {
				t.Errorf("%s upload: backend read %q, want %q", name, got, want)
			}
			res, err = c.Get(f.url(fmt.Sprintf("/down?n=%d&chunked=%d", n, map[bool]int{false: 0, true: 1}[chunked])))
			if err != nil {
				t.Fatalf("%s download: %v", name, err)
			}
			h := sha256.New()
			m, err := io.Copy(h, res.Body)
			res.Body.Close()
			if err != nil || fmt.Sprintf("%d %x", m, h.Sum(nil)) != want {
				t.Errorf("%s download: got %d bytes (%v), want %s", name, m, err, want)
			}
		}
		c.CloseIdleConnections()
	}
	peak := stop()
	growth := peak - rss0
	t.Logf("4 uploads and 4 downloads of %d MiB: tlsfront RSS %d KiB before, peak %d KiB (+%d KiB)", n>>20, rss0, peak, growth)
	if growth > 32<<10 {
		t.Errorf("tlsfront's RSS grew by %d KiB while streaming %d MiB bodies, want under 32 MiB: bodies are being buffered", growth, n>>20)
	}

	t.Run("max_body_bytes", func(t *testing.T) {
		lim := startHostile(t, hostileOptions{Backend: backend, MaxBodyBytes: 1 << 20})
		for _, h2 := range []bool{false, true} {
			c := lim.client(h2)
			for _, declared := range []bool{true, false} {
				asked0, complete0 := asked.Load(), complete.Load()
				req, _ := http.NewRequest("POST", lim.url("/up"), io.LimitReader(newBodyPattern(), 2<<20))
				if declared {
					req.ContentLength = 2 << 20
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatalf("h2=%v declared=%v: %v", h2, declared, err)
				}
				drainBody(res.Body)
				res.Body.Close()
				if res.StatusCode != 413 {
					t.Errorf("h2=%v declared=%v: 2 MiB body with max_body_bytes = 1 MiB got %d, want 413", h2, declared, res.StatusCode)
				}
				if declared && asked.Load() != asked0 {
					t.Errorf("h2=%v: the backend was asked for a declared body over the limit", h2)
				}
				if complete.Load() != complete0 {
					t.Errorf("h2=%v declared=%v: the backend read a complete body over the limit", h2, declared)
				}
			}
			res, err := c.Post(lim.url("/up"), "application/octet-stream", io.LimitReader(newBodyPattern(), 1<<20))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(got) != patternSum(1<<20) {
				t.Errorf("h2=%v: body at the limit: backend read %q", h2, got)
			}
			c.CloseIdleConnections()
		}
	})
}

// TestSlowPOST: 100 clients send a POST's headers and 10 of its 1,000
// body bytes over HTTP/1.1, then nothing; one does the same over HTTP/2.
// Each gets 408 once proxy.client_body_timeout (2 s here) passes — the
// HTTP/1.1 connections closed after it — and one log line, while a
// normal client keeps being served by Apache.
func TestSlowPOST(t *testing.T) {
	apache := itest.StartApache(t, itest.ApacheOptions{})
	f := startHostile(t, hostileOptions{Backend: apache.URL, ClientBodyTimeout: "2s"})
	const n = 100
	results := make(chan string, n)
	for range n {
		go func() {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", f.HTTPSAddr, clientTLS("http/1.1"))
			if err != nil {
				results <- "dial: " + err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second)) // a bound on the test, not the judged figure
			io.WriteString(c, "POST /?slow-post HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
				"Content-Length: 1000\r\n\r\nfield=0123")
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				results <- "reading the response: " + err.Error()
				return
			}
			io.Copy(io.Discard, res.Body)
			_, err = br.ReadByte() // then the connection ends
			results <- fmt.Sprintf("%d close=%v then %v", res.StatusCode, res.Close, err)
		}()
	}

	// HTTP/2: Go's client, the body a pipe that stops after 10 bytes.
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("field=0123"))
	req, _ := http.NewRequest("POST", f.url("/?slow-post-h2"), pr)
	req.ContentLength = 1000
	h2 := f.client(true)
	defer h2.CloseIdleConnections()
	res, err := h2.Do(req)
	if err != nil {
		t.Fatalf("HTTP/2 slow POST: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("HTTP/2 slow POST: %s %d, want HTTP/2 408", res.Proto, res.StatusCode)
	}

	normal := f.client(false)
	defer normal.CloseIdleConnections()
	timeGets(t, normal, f.url("/?while-slow-posts-wait"), 20)

	tally := map[string]int{}
	for range n {
		tally[<-results]++
	}
	if want := "408 close=true then EOF"; tally[want] != n {
		t.Errorf("HTTP/1.1 slow POSTs: %v, want all %d %q", tally, n, want)
	}
	logged := 0
	for _, l := range f.LogLines() {
		if l["message"] == "request body too slow: 408" {
			logged++
		}
	}
	if logged != n+1 {
		t.Errorf("%d log lines for %d slow POSTs, want one each", logged, n+1)
	}
}

// TestSlowHTTP2Headers: HTTP/2 connections that never finish a request's
// header block — silent after the preface, a HEADERS frame without
// END_HEADERS and then nothing, or CONTINUATION frames trickled one byte
// of header block every 500 ms — are each closed by tlsfront, bounded by
// server.idle_timeout (4 s here; no stream exists until the header block
// ends, so the connection counts as idle), while the slowloris of HTTP/1.1
// is bounded by read_header_timeout. Apache never sees them.
func TestSlowHTTP2Headers(t *testing.T) {
	apache := itest.StartApache(t, itest.ApacheOptions{})
	f := startHostile(t, hostileOptions{Backend: apache.URL, ReadHeaderTimeout: "2s", IdleTimeout: "4s"})
	type result struct {
		name  string
		after time.Duration
		how   string
	}
	const perKind = 10
	kinds := []string{"silent after the preface", "HEADERS without END_HEADERS", "CONTINUATION trickle"}
	results := make(chan result, perKind*len(kinds))
	start := time.Now()
	for _, kind := range kinds {
		for range perKind {
			go func() {
				how := slowH2(t, f.HTTPSAddr, kind)
				results <- result{kind, time.Since(start), how}
			}()
		}
	}
	normal := f.client(true)
	defer normal.CloseIdleConnections()
	timeGets(t, normal, f.url("/?while-slow-h2-headers"), 20)
	tally := map[string]int{}
	last := map[string]time.Duration{}
	for range perKind * len(kinds) {
		r := <-results
		tally[r.name+": "+r.how]++
		last[r.name] = max(last[r.name], r.after)
	}
	for _, kind := range kinds {
		t.Logf("%s: %d closed, the last after %v", kind, tally[kind+": closed"], last[kind].Round(100*time.Millisecond))
	}
	for _, kind := range kinds {
		if tally[kind+": closed"] != perKind {
			t.Errorf("%s: %v, want all %d closed by tlsfront", kind, tally, perKind)
		}
	}
	slow, normalSeen := 0, 0
	for _, r := range apache.Requests(t) {
		switch {
		case strings.Contains(r.Target, "?slow-h2"):
			slow++
		case strings.Contains(r.Target, "?while-slow-h2-headers"):
			normalSeen++
		}
	}
	if slow != 0 || normalSeen != 20 {
		t.Errorf("Apache logged %d slow-header requests and %d normal ones, want 0 and 20", slow, normalSeen)
	}
}

// slowH2 runs one slow HTTP/2 header attacker and says how it ended:
// "closed" by the server (GOAWAY and/or EOF), or "still open" after 20 s.
func slowH2(t *testing.T, addr, kind string) string {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS("h2"))
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // the test's bound, far past the timeouts
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, hf := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/?slow-h2"}, {"x-slow", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}} {
		enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	frag := block.Bytes()
	closed := make(chan string, 1)
	go func() {
		for {
			if _, err := fr.ReadFrame(); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					closed <- "still open"
				} else {
					closed <- "closed"
				}
				return
			}
		}
	}()
	switch kind {
	case "HEADERS without END_HEADERS":
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag[:4], EndHeaders: false})
	case "CONTINUATION trickle":
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag[:4], EndHeaders: false})
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for i := 4; ; i++ {
			select {
			case how := <-closed:
				return how
			case <-tick.C:
				if i < len(frag) {
					fr.WriteContinuation(1, false, frag[i:i+1])
				}
			}
		}
	}
	return <-closed
}

// TestSlowRead: 20 HTTP/1.1 clients and 5 HTTP/2 streams ask for 256 MiB
// each and stop reading after 1 MiB. proxy.send_timeout (2 s here) cuts
// each — the HTTP/1.1 connections closed, the HTTP/2 streams reset — so a
// client that resumes reading finds its response cut short, and tlsfront's
// client and backend connections are released (its open files back where
// they were).
func TestSlowRead(t *testing.T) {
	backend, _, _ := bodyBackend(t)
	f := startHostile(t, hostileOptions{Backend: backend, SendTimeout: "2s", NoAccessLog: true})
	const size = 256 << 20
	warm := f.client(false)
	timeGets(t, warm, f.url("/down?n=1000"), 3)
	warm.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	fds0 := openFDs(t, f.PID)

	type reader struct {
		name string
		body io.ReadCloser
	}
	var readers []reader
	h2 := f.client(true)
	defer h2.CloseIdleConnections()
	for i := range 25 {
		c, name := h2, fmt.Sprintf("HTTP/2 stream %d", i-19)
		if i < 20 {
			c, name = f.client(false), fmt.Sprintf("HTTP/1.1 client %d", i+1)
			defer c.CloseIdleConnections()
		}
		res, err := c.Get(f.url(fmt.Sprintf("/down?n=%d&chunked=%d", size, i%2)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer res.Body.Close()
		if _, err := io.ReadFull(res.Body, make([]byte, 1<<20)); err != nil {
			t.Fatalf("%s: reading the first MiB: %v", name, err)
		}
		readers = append(readers, reader{name, res.Body})
	}
	held := openFDs(t, f.PID)
	time.Sleep(6 * time.Second) // not reading: tlsfront's writes wait on these clients
	for _, r := range readers {
		n, err := io.Copy(io.Discard, r.body)
		if err == nil || n >= size-1<<20 {
			t.Errorf("%s: after the pause, %d more bytes and err %v; want the response cut short", r.name, n, err)
		}
	}
	var fds int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if fds = openFDs(t, f.PID); fds <= fds0+2 { // +2: the HTTP/2 client's connection and its backend's
			break
		}
	}
	t.Logf("tlsfront open files: %d before, %d with the 25 slow readers, %d after they were cut", fds0, held, fds)
	if fds > fds0+2 {
		t.Errorf("tlsfront holds %d open files after the slow readers were cut, %d before", fds, fds0)
	}
}
