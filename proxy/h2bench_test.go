package proxy

// Benchmarks of the HTTP/2 server, each next to net/http's HTTP/2 server
// doing the same: a request answered at once by the handler (allocations
// per request: the client below allocates nothing per request, so they are
// the server's), and the memory an idle connection holds.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

var benchBody = bytes.Repeat([]byte("x"), 1000)

// inlineH2 answers 1000 bytes at once.
var inlineH2 = H2HandlerFunc(func(w H2ResponseWriter, r *H2Request) {
	_ = w.WriteHead(200, []H2Field{{"content-type", "text/plain"}, {"content-length", "1000"}}, false)
	_, _ = w.Write(benchBody)
	_ = w.End(nil)
})

// inlineGo is the same for net/http.
var inlineGo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "1000")
	_, _ = w.Write(benchBody)
})

// benchClient is an HTTP/2 client that sends pre-encoded GET requests in
// batches of depth streams and counts responses ended, without allocating.
type benchClient struct {
	c     *tls.Conn
	br    *bufio.Reader
	id    uint32
	frame []byte // a HEADERS frame whose stream ID is patched in place
	buf   []byte
}

func dialBench(tb testing.TB, addr string, root *tls.Config) *benchClient {
	c, err := tls.Dial("tcp", addr, root)
	if err != nil {
		tb.Fatal(err)
	}
	// GET https://localhost/bench, fields without indexing: the same
	// block for every request.
	blk := []byte{0x82, 0x87, 0x04, 0x06, '/', 'b', 'e', 'n', 'c', 'h', 0x01, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'}
	frame := []byte{0, 0, byte(len(blk)), byte(http2.FrameHeaders), byte(http2.FlagHeadersEndHeaders | http2.FlagHeadersEndStream), 0, 0, 0, 0}
	frame = append(frame, blk...)
	bc := &benchClient{c: c, br: bufio.NewReaderSize(c, 64<<10), id: 1, frame: frame, buf: make([]byte, 64<<10)}
	pre := append([]byte(http2.ClientPreface), 0, 0, 6, byte(http2.FrameSettings), 0, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff)
	pre = append(pre, 0, 0, 4, byte(http2.FrameWindowUpdate), 0, 0, 0, 0, 0, 0x7f, 0, 0, 0)
	if _, err := c.Write(pre); err != nil {
		tb.Fatal(err)
	}
	return bc
}

// round sends depth requests and reads until all have ended.
func (bc *benchClient) round(tb testing.TB, depth int) {
	out := bc.buf[:0]
	for i := 0; i < depth; i++ {
		binary.BigEndian.PutUint32(bc.frame[5:], bc.id)
		bc.id += 2
		out = append(out, bc.frame...)
	}
	if _, err := bc.c.Write(out); err != nil {
		tb.Fatal(err)
	}
	var hdr [9]byte
	for ended := 0; ended < depth; {
		if _, err := io.ReadFull(bc.br, hdr[:]); err != nil {
			tb.Fatal(err)
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		if _, err := bc.br.Discard(n); err != nil {
			tb.Fatal(err)
		}
		typ, flags := http2.FrameType(hdr[3]), http2.Flags(hdr[4])
		switch {
		case typ == http2.FrameSettings && flags&http2.FlagSettingsAck == 0:
			if _, err := bc.c.Write([]byte{0, 0, 0, byte(http2.FrameSettings), 1, 0, 0, 0, 0}); err != nil {
				tb.Fatal(err)
			}
		case typ == http2.FrameRSTStream || typ == http2.FrameGoAway:
			tb.Fatalf("frame %v", typ)
		case (typ == http2.FrameData || typ == http2.FrameHeaders) && flags&http2.FlagDataEndStream != 0:
			ended++
		}
	}
}

func benchRequests(b *testing.B, addr string, cfg *tls.Config, depth int) {
	bc := dialBench(b, addr, cfg)
	defer bc.c.Close()
	bc.round(b, depth) // warm up: settings, first buffers
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		bc.round(b, depth)
	}
}

// goServer serves h with net/http's HTTP/2 server over TLS.
func goServer(b *testing.B, h http.Handler) (string, *tls.Config) {
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
}

// BenchmarkH2Request is one request answered at once, one stream at a
// time (depth 1) and ten in flight (depth 10).
func BenchmarkH2Request(b *testing.B) {
	for _, depth := range []int{1, 10} {
		b.Run("tlsfront/depth="+strconv.Itoa(depth), func(b *testing.B) {
			hs := startH2(b, inlineH2, H2Options{})
			benchRequests(b, hs.addr, &tls.Config{RootCAs: hs.ca.Pool(), ServerName: "localhost", NextProtos: []string{"h2"}}, depth)
		})
		b.Run("go/depth="+strconv.Itoa(depth), func(b *testing.B) {
			addr, cfg := goServer(b, inlineGo)
			benchRequests(b, addr, cfg, depth)
		})
	}
}

// BenchmarkH2IdleConn opens connections that each served one request and
// reports the heap and goroutine stacks each holds while idle, measured in
// a child process that serves only (TestH2MemServe), so the clients'
// memory does not count.
func BenchmarkH2IdleConn(b *testing.B) {
	const conns = 1000
	for _, kind := range []string{"tlsfront", "go"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestH2MemServe$")
				cmd.Env = append(os.Environ(), "H2MEM_SERVE="+kind)
				stdin, _ := cmd.StdinPipe()
				stdout, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				lines := bufio.NewScanner(stdout)
				next := func() []string {
					for lines.Scan() {
						if f := strings.Fields(lines.Text()); len(f) >= 2 && (f[0] == "addr" || f[0] == "mem") {
							return f[1:]
						}
					}
					b.Fatalf("child: %v", lines.Err())
					return nil
				}
				addr := next()[0]
				mem := func() (heap, stack float64) {
					_, _ = io.WriteString(stdin, "mem\n")
					f := next()
					heap, _ = strconv.ParseFloat(f[0], 64)
					stack, _ = strconv.ParseFloat(f[1], 64)
					return heap, stack
				}
				heap0, stack0 := mem()
				cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
				clients := make([]*benchClient, conns)
				for j := range clients {
					clients[j] = dialBench(b, addr, cfg)
					clients[j].round(b, 1)
				}
				time.Sleep(writerLinger + 500*time.Millisecond) // every connection idle
				heap1, stack1 := mem()
				b.ReportMetric((heap1+stack1-heap0-stack0)/conns, "B/conn")
				b.ReportMetric((stack1-stack0)/conns, "stack-B/conn")
				for _, c := range clients {
					c.c.Close()
				}
				stdin.Close()
				_ = cmd.Wait()
			}
		})
	}
}

// TestH2MemServe is BenchmarkH2IdleConn's child: it serves H2MEM_SERVE's
// server ("tlsfront" or "go") on 127.0.0.1, prints "addr HOST:PORT", and
// answers each "mem" line on stdin with "mem HEAP STACK" (bytes in use
// after a GC).
func TestH2MemServe(t *testing.T) {
	kind := os.Getenv("H2MEM_SERVE")
	if kind == "" {
		t.Skip("run by BenchmarkH2IdleConn")
	}
	if os.Getenv("H2MEM_DEBUG") != "" {
		runtime.MemProfileRate = 1
	}
	var addr string
	if kind == "go" {
		srv := httptest.NewUnstartedServer(inlineGo)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		defer srv.Close()
		addr = srv.Listener.Addr().String()
	} else {
		hs := startH2(t, inlineH2, H2Options{})
		addr = hs.addr
	}
	fmt.Printf("addr %s\n", addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC() // sync.Pool contents survive one GC
		runtime.ReadMemStats(&m)
		fmt.Printf("mem %d %d\n", m.HeapInuse, m.StackInuse)
		if os.Getenv("H2MEM_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "heap %d stack %d goroutines %d\n", m.HeapInuse, m.StackInuse, runtime.NumGoroutine())
			f, _ := os.Create(os.Getenv("H2MEM_DEBUG"))
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
}
