package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"tlsfront/internal/testca"
)

// benchBackend is a stand-in for Apache answering "ok\n" with the headers
// a legacy PHP site sends.
func benchBackend(b *testing.B) *url.URL {
	b.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Server"] = []string{"Apache/2.2.22 (Debian) PHP/5.4.45"}
		h["X-Powered-By"] = []string{"PHP/5.4.45"}
		h["Set-Cookie"] = []string{"PHPSESSID=0123456789abcdef; path=/; HttpOnly"}
		h["Content-Type"] = []string{"text/plain"}
		_, _ = io.WriteString(w, "ok\n")
	}))
	b.Cleanup(backend.Close)
	u, _ := url.Parse(backend.URL)
	return u
}

func benchHandler(b *testing.B, backend *url.URL) *Handler {
	b.Helper()
	h, err := New(Options{
		Sites: []Site{{Backend: backend, Set: http.Header{"X-Frame-Options": {"SAMEORIGIN"}}}},
		Route: route, HSTS: hsts, HTTPSPort: 443, MaxIdleConns: 64,
		RewriteRedirects: true, SecureCookies: true, HideBackendVersion: true, Logger: zerolog.Nop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	return h
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// counts the proxy's allocations and not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkServeHTTP is one proxied request through the Handler (and the
// access-log Observe wrapper) to an httptest backend over a reused
// keep-alive connection: routing, Rewrite, the transport round trip and
// the response header rewriting.
func BenchmarkServeHTTP(b *testing.B) {
	h := benchHandler(b, benchBackend(b))
	observed := Observe(h, func(*Entry) {})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"handler", h}, {"observed", observed}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "https://a.example/index.php?id=1", nil)
			req.RemoteAddr = "192.0.2.7:50000"
			req.TLS = &tls.ConnectionState{ServerName: "a.example", Version: tls.VersionTLS13}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status = 0
				c.h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// BenchmarkModifyResponse is the response header rewriting a legacy
// backend's answer gets: ours replace the backend's, Location, cookies and
// the version banner.
func BenchmarkModifyResponse(b *testing.B) {
	h := benchHandler(b, &url.URL{Scheme: "http", Host: "127.0.0.1:8080"})
	req := httptest.NewRequest("GET", "https://a.example/dir", nil)
	cases := []struct {
		name   string
		header func() http.Header
	}{
		{"redirect and cookies", func() http.Header {
			return http.Header{
				"Location":                  {"http://a.example/dir/"},
				"Set-Cookie":                {"PHPSESSID=0123456789abcdef; path=/; HttpOnly", "t=1; Secure"},
				"Server":                    {"Apache/2.2.22 (Debian) PHP/5.4.45"},
				"X-Powered-By":              {"PHP/5.4.45"},
				"Strict-Transport-Security": {"max-age=1"},
				"Content-Type":              {"text/html"},
			}
		}},
		{"plain page", func() http.Header {
			return http.Header{"Server": {"Apache"}, "Content-Type": {"text/html"}, "Content-Length": {"3"}}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				res := &http.Response{Header: c.header(), Request: req}
				b.StartTimer()
				_ = h.modifyResponse(res, &h.sites[0])
			}
		})
	}
}

// serveBenchTLS serves h with NewServer's settings on a TLS listener on
// 127.0.0.1, as cmd/tlsfront does, and returns its address and a client
// config trusting it.
func serveBenchTLS(b *testing.B, h http.Handler) (string, *tls.Config) {
	b.Helper()
	ca := testca.New(b)
	leaf := ca.Leaf(b, testca.LeafOptions{Names: []string{"a.example"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(h, ServerOptions{Logger: zerolog.Nop()})
	tlsLn := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, NextProtos: []string{"h2", "http/1.1"}})
	go func() { _ = srv.Serve(tlsLn) }()
	b.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "a.example"}
}

// BenchmarkProxyTLS is the whole path as a client sees it: TLS, the
// http.Server (HTTP/1.1 keep-alive or HTTP/2), the Handler and the backend.
// The client's own cost is included, so compare runs, not the absolute.
func BenchmarkProxyTLS(b *testing.B) {
	addr, clientTLS := serveBenchTLS(b, Observe(benchHandler(b, benchBackend(b)), func(*Entry) {}))
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
	addr, _ := serveBenchTLS(b, Observe(benchHandler(b, benchBackend(b)), func(*Entry) {}))
	measure := func() (heap, stack uint64) {
		runtime.GC()
		runtime.GC()
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
