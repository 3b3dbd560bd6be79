package integration

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tlsfront/internal/itest"
)

// Issue 13's "one client must not take every Apache worker", over HTTP/2,
// through the binary: rapid reset (CVE-2023-44487) and more streams of a
// slow URL than server.max_concurrent_streams, judged at the backend.

// h2Attacker is a raw HTTP/2 client over TLS that writes what it is told,
// however abusive, and reads what the server sends on a goroutine of its
// own.
type h2Attacker struct {
	c   *tls.Conn
	w   *bufio.Writer
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer

	frames chan http2.Frame // what the server sent, until it closed (then closed)
	err    error            // why reading ended, once frames is closed
}

func dialH2Attacker(t *testing.T, addr string) *h2Attacker {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS("h2"))
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	a := &h2Attacker{c: c, w: bufio.NewWriterSize(c, 64<<10), frames: make(chan http2.Frame, 1<<16)}
	a.fr = http2.NewFramer(a.w, c)
	a.enc = hpack.NewEncoder(&a.buf)
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(a.w, http2.ClientPreface)
	a.fr.WriteSettings()
	a.w.Flush()
	go func() {
		defer close(a.frames)
		rfr := http2.NewFramer(io.Discard, c)
		rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		for {
			f, err := rfr.ReadFrame()
			if err != nil {
				a.err = err
				return
			}
			a.frames <- f
		}
	}()
	return a
}

// get encodes GET path.
func (a *h2Attacker) get(path string) []byte {
	a.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}} {
		a.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return append([]byte(nil), a.buf.Bytes()...)
}

// h2End is how an attacked connection ended, seen from the attacker.
type h2End struct {
	goAways []http2.ErrCode // in order
	closed  bool            // the server closed the connection
	resets  map[http2.ErrCode]int
	answers int // response HEADERS received
}

// drain reads until the server closes the connection or goes quiet for
// quiet.
func (a *h2Attacker) drain(quiet time.Duration) h2End {
	e := h2End{resets: map[http2.ErrCode]int{}}
	for {
		select {
		case f, ok := <-a.frames:
			if !ok {
				var ne net.Error
				e.closed = !(errors.As(a.err, &ne) && ne.Timeout()) // not our own deadline
				return e
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				e.goAways = append(e.goAways, f.ErrCode)
			case *http2.RSTStreamFrame:
				e.resets[f.ErrCode]++
			case *http2.MetaHeadersFrame:
				e.answers++
			}
		case <-time.After(quiet):
			return e
		}
	}
}

// TestHTTP2RapidReset is CVE-2023-44487 through the binary: 2,000
// HEADERS+RST_STREAM pairs on one connection (issue 13 saw net/http's
// server put 268 of them on the backend and keep the connection open).
// With tlsfront's server the connection is closed with GOAWAY
// ENHANCE_YOUR_CALM at server.http2_glitches (1000 by default), counted in
// tlsfront_http2_glitch_closes_total and logged once, and Apache gets a
// bounded number of the requests. net/http's server is measured too, for
// RELIABILITY.md.
func TestHTTP2RapidReset(t *testing.T) {
	t.Parallel()
	apache := itest.StartApache(t, itest.ApacheOptions{Files: map[string]string{"rr": "rapid reset\n"}})
	for _, h2 := range h2Servers {
		t.Run(h2, func(t *testing.T) {
			f := startHostile(t, hostileOptions{Backend: apache.URL, HTTP2: h2, MaxIdleConns: 8})
			leaks := leakCheck(t, f, 8)
			defer leaks()
			prefix := "/rr?" + h2 + "-"
			a := dialH2Attacker(t, f.HTTPSAddr)
			sent := 0
			for i := range 2000 {
				id := uint32(1 + 2*i)
				a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: a.get(fmt.Sprintf("%s%d", prefix, i)),
					EndStream: true, EndHeaders: true})
				a.fr.WriteRSTStream(id, http2.ErrCodeCancel)
				if i%50 == 49 {
					if err := a.w.Flush(); err != nil {
						break // the server closed the connection
					}
				}
				sent = i + 1
			}
			a.w.Flush()
			end := a.drain(3 * time.Second)

			// Apache's count: wait until it stops growing.
			count := func() int {
				n := 0
				for _, r := range apache.Requests(t) {
					if strings.HasPrefix(r.Target, prefix) {
						n++
					}
				}
				return n
			}
			reached := count()
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
				time.Sleep(500 * time.Millisecond)
				n := count()
				if n == reached {
					break
				}
				reached = n
			}
			glitches, _ := scrapeMetric(t, f.Metrics, "tlsfront_http2_glitches_total")
			closes, _ := scrapeMetric(t, f.Metrics, "tlsfront_http2_glitch_closes_total")
			t.Logf("server.http2 = %q: %d pairs written, GOAWAY %v, closed %v; Apache got %d requests; glitches %v, glitch closes %v",
				h2, sent, end.goAways, end.closed, reached, glitches, closes)
			if h2 != "tlsfront" {
				return // measured only
			}
			if len(end.goAways) == 0 || end.goAways[len(end.goAways)-1] != http2.ErrCodeEnhanceYourCalm || !end.closed {
				t.Errorf("the connection ended with GOAWAY %v (closed %v), want ENHANCE_YOUR_CALM and closed", end.goAways, end.closed)
			}
			if reached > 128 {
				t.Errorf("Apache got %d of the reset requests, want at most max_concurrent_streams (128)", reached)
			}
			if closes != 1 || glitches < 1000 {
				t.Errorf("metrics: %v glitch closes, %v glitches; want 1 and at least the threshold (1000)", closes, glitches)
			}
			n := 0
			for _, m := range f.LogLines() {
				if strings.Contains(fmt.Sprint(m["message"]), "ENHANCE_YOUR_CALM") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d log lines about the closed connection, want 1:\n%s", n, f.Logs())
			}
			// The front still serves.
			res, err := f.client(true).Get(f.url("/rr?after"))
			if err != nil || res.StatusCode != 200 || res.ProtoMajor != 2 {
				t.Fatalf("a request after the attack: %v %v", res, err)
			}
			res.Body.Close()
		})
	}
}

// peakBackend answers after delay and records how many requests it was
// serving at once, at most.
type peakBackend struct {
	srv           *httptest.Server
	running, peak atomic.Int64
	served        atomic.Int64
	delay         time.Duration
}

func startPeakBackend(t *testing.T, delay time.Duration) *peakBackend {
	t.Helper()
	b := &peakBackend{delay: delay}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.running.Add(1)
		for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
		}
		time.Sleep(b.delay)
		b.running.Add(-1)
		b.served.Add(1)
		io.WriteString(w, "slow")
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// TestHTTP2StreamsPerConnection: 250 streams of a slow URL on one
// connection reach the backend at most server.max_concurrent_streams at a
// time (issue 13 saw 250 at once), whether the client ignores the setting
// (an attacker: the excess streams are refused with REFUSED_STREAM) or
// keeps to it (h2load: every request is served, in turn). proxy.
// max_backend_conns is set above 250, so that only the stream limit binds.
func TestHTTP2StreamsPerConnection(t *testing.T) {
	t.Parallel()
	const limit = 100
	for _, h2 := range h2Servers {
		t.Run(h2, func(t *testing.T) {
			t.Parallel()
			h2load := itest.RequireTool(t, "h2load")
			b := startPeakBackend(t, 500*time.Millisecond)
			f := startHostile(t, hostileOptions{Backend: b.srv.URL, HTTP2: h2, MaxConcurrentStreams: limit, MaxBackendConns: 500, MaxIdleConns: 8})
			leaks := leakCheck(t, f, 8)
			defer leaks()

			// The attacker: 250 HEADERS at once.
			a := dialH2Attacker(t, f.HTTPSAddr)
			for i := range 250 {
				a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(1 + 2*i), BlockFragment: a.get(fmt.Sprintf("/slow/attack/%d", i)),
					EndStream: true, EndHeaders: true})
			}
			a.w.Flush()
			end := a.drain(3 * time.Second)
			t.Logf("server.http2 = %q, attacker: %d answers, resets %v, GOAWAY %v; backend peak %d, served %d",
				h2, end.answers, end.resets, end.goAways, b.peak.Load(), b.served.Load())
			if p := b.peak.Load(); p > limit {
				t.Errorf("the backend served %d requests of one connection at once, server.max_concurrent_streams = %d", p, limit)
			}
			if end.answers > limit {
				t.Errorf("%d streams answered, want at most the %d allowed", end.answers, limit)
			}
			a.c.Close()

			// A client keeping to the limit: every request served.
			b.peak.Store(0)
			out, err := exec.Command(h2load, "-n", "250", "-c", "1", "-m", "250", fmt.Sprintf("https://127.0.0.1:%d/slow/polite", f.HTTPSPort)).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "250 succeeded") {
				t.Fatalf("h2load: %v\n%s", err, out)
			}
			if p := b.peak.Load(); p > limit || p < limit/2 {
				t.Errorf("h2load's 250 streams reached the backend %d at once, want up to server.max_concurrent_streams = %d", p, limit)
			}
			t.Logf("h2load: 250 succeeded, backend peak %d", b.peak.Load())
		})
	}
}
