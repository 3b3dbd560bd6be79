package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tlsfront/internal/testca"
	"tlsfront/wire"
)

// benchResponse is what a legacy PHP site's Apache answers.
const benchResponse = "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: Apache/2.2.22 (Debian) PHP/5.4.45\r\n" +
	"X-Powered-By: PHP/5.4.45\r\nSet-Cookie: PHPSESSID=0123456789abcdef; path=/; HttpOnly\r\nContent-Length: 3\r\n" +
	"Keep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\nContent-Type: text/plain\r\n\r\nok\n"

// benchBackend is a stand-in for Apache that allocates next to nothing per
// request, so that the benchmarks count tlsfront's allocations: it reads
// request heads (bodiless requests only) and answers each with
// benchResponse.
func benchBackend(b testing.TB) *url.URL {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 16<<10)
				n := 0
				for {
					k, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += k
					for {
						i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						if _, err := io.WriteString(c, benchResponse); err != nil {
							return
						}
						n = copy(buf, buf[i+4:n])
					}
				}
			}()
		}
	}()
	b.Cleanup(func() { ln.Close() })
	u, _ := url.Parse("http://" + ln.Addr().String())
	return u
}

func benchHandler(b testing.TB, backend *url.URL) *Handler {
	b.Helper()
	h, err := New(Options{
		Sites: []Site{{Name: "a.example", Backend: backend, Set: http.Header{"X-Frame-Options": {"SAMEORIGIN"}}}},
		Route: route, HSTS: hsts, HTTPSPort: 443, MaxIdleConns: 64, MaxBackendConns: 128,
		RewriteRedirects: true, SecureCookies: true, HideBackendVersion: true, Logger: zerolog.Nop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	h.SetLimits(Limits{ReadTimeout: time.Minute, ClientBodyTimeout: time.Minute, SendTimeout: time.Minute})
	h.SetObserve(func(*Entry) {})
	b.Cleanup(h.Close)
	return h
}

// discardSink is a ResponseSink that keeps nothing.
type discardSink struct{ status int }

func (s *discardSink) SetTimeouts(send, body time.Duration)         {}
func (s *discardSink) Inform(status int, fields []wire.Field) error { return nil }
func (s *discardSink) WriteHead(status int, reason string, fields []wire.Field, length int64) error {
	s.status = status
	return nil
}
func (s *discardSink) Write(p []byte) (int, error)        { return len(p), nil }
func (s *discardSink) Flush() error                       { return nil }
func (s *discardSink) Finish(trailers []wire.Field) error { return nil }
func (s *discardSink) Abort()                             {}
func (s *discardSink) CloseAfter()                        {}
func (s *discardSink) Watch(func())                       {}
func (s *discardSink) Unwatch() bool                      { return false }

// browserFields are a desktop browser's fields, as the H1 engine hands them
// to the path.
var browserFields = []wire.Field{
	{Name: "User-Agent", Value: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
	{Name: "Accept", Value: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	{Name: "Accept-Language", Value: "en-US,en;q=0.5"},
	{Name: "Accept-Encoding", Value: "gzip, deflate, br, zstd"},
	{Name: "Referer", Value: "https://a.example/"},
	{Name: "Connection", Value: "keep-alive"},
	{Name: "Cookie", Value: "PHPSESSID=0123456789abcdef0123456789; lang=en"},
	{Name: "Upgrade-Insecure-Requests", Value: "1"},
}

// BenchmarkServe is one proxied request through the request path
// (Handler.Serve, as the engines call it) to a backend over a reused
// keep-alive connection: routing, the request rebuilt, the backend round
// trip, the response's fields rewritten, the access-log entry.
func BenchmarkServe(b *testing.B) {
	h := benchHandler(b, benchBackend(b))
	ci := &ConnInfo{Remote: netipAddrPortMust("192.0.2.7:50000"), TLS: &tls.ConnectionState{ServerName: "a.example", Version: tls.VersionTLS13}, Fwd: new(ForwardCache)} // as the engines make it
	r := &Request{Method: "GET", Authority: "a.example", Target: "/index.php?id=1", Proto: "HTTP/1.1", Fields: browserFields, Conn: ci}
	s := &discardSink{}
	b.ReportAllocs()
	for b.Loop() {
		r.Start = time.Now()
		h.Serve(s, r)
		if s.status != http.StatusOK {
			b.Fatalf("status %d", s.status)
		}
	}
}

// BenchmarkServeHTTP is the same request through ServeHTTP, as net/http's
// HTTP/2 server hands it over (the header map and ResponseWriter adapted).
func BenchmarkServeHTTP(b *testing.B) {
	h := benchHandler(b, benchBackend(b))
	req := httptest.NewRequest("GET", "https://a.example/index.php?id=1", nil)
	req.RemoteAddr = "192.0.2.7:50000"
	req.TLS = &tls.ConnectionState{ServerName: "a.example", Version: tls.VersionTLS13}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkH1 is one proxied keep-alive request through the HTTP/1.1
// engine, without TLS (a plain TCP connection into serveConn), client
// included: the engine's allocations per request, and its time.
func BenchmarkH1(b *testing.B) {
	h := benchHandler(b, benchBackend(b))
	e := NewH1(H1Options{Server: h, Logger: zerolog.Nop()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go e.serveConn(c.(*net.TCPConn), ConnInfo{})
		}
	}()
	b.Cleanup(func() { ln.Close(); _ = e.Shutdown(context.Background()) })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /index.php?id=1 HTTP/1.1\r\nHost: a.example\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\nReferer: https://a.example/\r\nConnection: keep-alive\r\n" +
		"Cookie: PHPSESSID=0123456789abcdef0123456789; lang=en\r\nUpgrade-Insecure-Requests: 1\r\n\r\n")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for { // the response ends with the 3-byte body "ok\n"
			k, err := c.Read(buf[n:])
			if err != nil {
				b.Fatal(err)
			}
			n += k
			if n >= 3 && string(buf[n-3:n]) == "ok\n" {
				break
			}
		}
		if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
			b.Fatalf("response %q", buf[:n])
		}
	}
}

// BenchmarkResponseFields is the rewriting of a legacy Apache answer's
// fields: ours replace the backend's, Location, cookies and the banner.
func BenchmarkResponseFields(b *testing.B) {
	h := benchHandler(b, &url.URL{Scheme: "http", Host: "127.0.0.1:8080"})
	x := &exchange{h: h, st: &h.sites[0], r: &Request{Authority: "a.example"}}
	head := "HTTP/1.1 301 Moved Permanently\r\nLocation: http://a.example/dir/\r\n" +
		"Set-Cookie: PHPSESSID=0123456789abcdef; path=/; HttpOnly\r\nSet-Cookie: t=1; Secure\r\n" +
		"Server: Apache/2.2.22 (Debian) PHP/5.4.45\r\nX-Powered-By: PHP/5.4.45\r\nStrict-Transport-Security: max-age=1\r\n" +
		"Content-Type: text/html\r\nContent-Length: 0\r\n\r\n"
	if _, err := x.res.Parse(head); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = x.responseFields(true)
	}
}

// serveBenchTLS serves h as tlsfront does (TLSServer: the H1 engine,
// net/http for HTTP/2) on 127.0.0.1, and returns its address and a client
// config trusting it.
func serveBenchTLS(b *testing.B, h *Handler) (string, *tls.Config) {
	b.Helper()
	ca := testca.New(b)
	leaf := ca.Leaf(b, testca.LeafOptions{Names: []string{"a.example"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &TLSServer{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, NextProtos: []string{"h2", "http/1.1"}},
		H1:        NewH1(H1Options{Server: h, Logger: zerolog.Nop()}),
		H2:        NewServer(h, ServerOptions{Logger: zerolog.Nop()}),
	}
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "a.example"}
}

// BenchmarkProxyTLS is the whole path as a client sees it: TLS, the H1
// engine (HTTP/1.1 keep-alive) or net/http's HTTP/2 server, the request
// path and the backend. The client's own cost is included, so compare
// runs, not the absolute.
func BenchmarkProxyTLS(b *testing.B) {
	addr, clientTLS := serveBenchTLS(b, benchHandler(b, benchBackend(b)))
	for _, proto := range []string{"h1", "h2"} {
		b.Run(proto, func(b *testing.B) {
			tr := &http.Transport{TLSClientConfig: clientTLS.Clone(), MaxIdleConnsPerHost: 64, Protocols: new(http.Protocols)}
			if proto == "h2" {
				tr.Protocols.SetHTTP2(true)
			} else {
				tr.Protocols.SetHTTP1(true)
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			url := "https://" + addr + "/"
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkIdleConn measures the memory an idle HTTP/1.1 TLS connection
// holds on the server after one request (peers.sh's idle_kb_per_conn): live
// heap and goroutine stack per connection after a GC, so without the
// garbage a GOGC-paced heap also carries. The clients run in a child
// process (this test binary, see TestIdleClients), so only the server's
// side is counted. Reported as heap_B/conn and stack_B/conn.
func BenchmarkIdleConn(b *testing.B) {
	const conns = 1000
	addr, _ := serveBenchTLS(b, benchHandler(b, benchBackend(b)))
	measure := func() (heap, stack uint64) {
		// Each GC shrinks an idle goroutine's stack by half at most, as
		// the many GCs of a long idle time would.
		for range 6 {
			runtime.GC()
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc, m.StackInuse
	}
	for b.Loop() {
		h0, s0 := measure()
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClients$")
		cmd.Env = append(os.Environ(), "TLSFRONT_IDLE_CLIENTS="+addr+" "+strconv.Itoa(conns))
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdin, err := cmd.StdinPipe() // the child holds until this closes
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "holding") {
			b.Fatalf("client process: %q, %v", line, err)
		}
		h1, s1 := measure()
		stdin.Close()
		_ = cmd.Wait()
		b.ReportMetric(float64(int64(h1-h0))/conns, "heap_B/conn")
		b.ReportMetric(float64(int64(s1-s0))/conns, "stack_B/conn")
	}
}

// TestIdleClients is BenchmarkIdleConn's client process: with
// TLSFRONT_IDLE_CLIENTS="addr n" it opens n TLS connections, sends one
// request on each, prints "holding" and holds them until stdin closes.
// Without the variable it only checks that the helper is not run by accident.
func TestIdleClients(t *testing.T) {
	spec := os.Getenv("TLSFRONT_IDLE_CLIENTS")
	if spec == "" {
		t.Skip("helper process of BenchmarkIdleConn")
	}
	addr, nStr, _ := strings.Cut(spec, " ")
	n, _ := strconv.Atoi(nStr)
	cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}} // the server's throwaway test CA
	var open []*tls.Conn
	for range n {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		open = append(open, c)
	}
	fmt.Println("holding", len(open))
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range open {
		c.Close()
	}
}

func netipAddrPortMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
