package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// slowBackend answers "NAME PATH"; requests to /slow wait for release.
func slowBackend(t *testing.T, name string, started chan<- string, release <-chan struct{}) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			started <- r.URL.Path
			<-release
		}
		io.WriteString(w, name+" "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestConnectionKeepsItsGeneration is issue 14's proof: a reload changes
// both the certificate and the backend while connections are mid-way. A
// connection opened before it keeps the old pair for its handshake and
// every request it serves: HTTP/1.1 and HTTP/2 requests in flight across
// the reload, and a connection accepted before the reload whose
// ClientHello comes after. Then those connections close gracefully (the
// replaced Generation drains: nothing is cut), later requests go on new
// connections and get the new pair, and the old Generation is closed once
// its last connection has.
// It runs with each HTTP/2 server (server.http2).
func TestConnectionKeepsItsGeneration(t *testing.T) {
	for _, h2 := range http2Servers {
		t.Run(h2, func(t *testing.T) { connectionKeepsItsGeneration(t, h2) })
	}
}

// http2Servers are the values of server.http2 that serve HTTP/2.
var http2Servers = []string{"go", "tlsfront"}

func connectionKeepsItsGeneration(t *testing.T, http2 string) {
	f := newFixture(t)
	oldLeaf := f.leaf(t, "site")
	started, release := make(chan string, 4), make(chan struct{})
	cfg := siteConfig{HTTPS: loopback(t), Backend: slowBackend(t, "old", started, release), Cert: "site", HTTP2: http2}
	f.write(t, cfg)
	d := f.start(t)
	roots := f.ca.Pool()
	oldSerial := oldLeaf.Cert().SerialNumber.String()
	oldGen := d.cur.Load()

	// HTTP/1.1: one request answered, one in flight across the reload.
	h1 := dial1(t, cfg.HTTPS, roots)
	if got := h1.get(t, "/h1-before"); got != "old /h1-before" || h1.serial() != oldSerial {
		t.Fatalf("before the reload: %q with certificate %s, want the old backend and %s", got, h1.serial(), oldSerial)
	}
	h1.c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(h1.c, "GET /slow-h1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
	// HTTP/2: one stream in flight across the reload.
	h2t := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: roots}, ForceAttemptHTTP2: true}
	defer h2t.CloseIdleConnections()
	h2 := &http.Client{Transport: h2t, Timeout: 10 * time.Second}
	type answer struct {
		body, serial string
		err          error
	}
	h2get := func(path string) answer {
		resp, err := h2.Get("https://" + cfg.HTTPS + path)
		if err != nil {
			return answer{err: err}
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.ProtoMajor != 2 {
			t.Errorf("GET %s over %s, want HTTP/2", path, resp.Proto)
		}
		return answer{string(body), resp.TLS.PeerCertificates[0].SerialNumber.String(), err}
	}
	inFlight := make(chan answer, 1)
	go func() { inFlight <- h2get("/slow-h2") }()
	for range 2 {
		<-started
	}
	// A connection the accept loop has taken, whose ClientHello comes only
	// after the reload.
	raw, err := net.Dial("tcp", cfg.HTTPS)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for deadline := time.Now().Add(5 * time.Second); d.limiter.Open() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the accept loop holds %d connections, want 3", d.limiter.Open())
		}
	}

	newLeaf := f.leaf(t, "site")
	cfg.Backend = backend(t, "new")
	f.write(t, cfg)
	if err := d.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	newSerial := newLeaf.Cert().SerialNumber.String()

	late := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err := late.Handshake(); err != nil {
		t.Fatalf("handshake of the connection accepted before the reload: %v", err)
	}
	lk := &client1{c: late, r: newReader(late)}
	if got := lk.get(t, "/late"); got != "old /late" || lk.serial() != oldSerial {
		t.Errorf("connection accepted before the reload, handshaken after: %q with certificate %s, want the old backend and %s",
			got, lk.serial(), oldSerial)
	}

	waitDraining(t, oldGen)
	close(release)
	resp, err := http.ReadResponse(h1.r, nil)
	if err != nil {
		t.Fatalf("the HTTP/1.1 request in flight across the reload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "old /slow-h1" || !resp.Close {
		t.Errorf("the HTTP/1.1 request in flight across the reload: %q (closing: %v), want the old backend's answer and the connection closed after it", body, resp.Close)
	}
	if a := <-inFlight; a.err != nil || a.body != "old /slow-h2" || a.serial != oldSerial {
		t.Errorf("the HTTP/2 stream in flight across the reload: %+v, want the old backend's answer on the old certificate", a)
	}
	if a := h2get("/h2-after"); a.err != nil || a.body != "new /h2-after" || a.serial != newSerial {
		t.Errorf("the HTTP/2 client's next request: %+v, want the new backend and certificate (on a new connection)", a)
	}
	if body, serial := fetch(t, cfg.HTTPS, "/fresh", roots); body != "new /fresh" || serial != newSerial {
		t.Errorf("a connection opened after the reload: %q with certificate %s, want the new backend and %s", body, serial, newSerial)
	}
	waitClosed(t, oldGen, "after its connections drained")
}

// waitDraining waits until every ConnServer of g has begun to drain (the
// reload starts them in the background).
func waitDraining(t *testing.T, g *Generation) {
	t.Helper()
	for _, cs := range g.connServers() {
		s := cs.(interface{ Draining() bool })
		for deadline := time.Now().Add(5 * time.Second); !s.Draining(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the replaced generation does not drain")
			}
		}
	}
}

// TestLateHTTP2HandoffIsNotLost: an HTTP/2 connection accepted just before
// a reload, whose handshake ends once the replaced Generation drains, is
// turned away with GOAWAY before any stream, not dropped: the client's
// request succeeds (on a new connection, with the new Generation).
// It runs with each HTTP/2 server (server.http2).
func TestLateHTTP2HandoffIsNotLost(t *testing.T) {
	for _, h2 := range http2Servers {
		t.Run(h2, func(t *testing.T) { lateHTTP2HandoffIsNotLost(t, h2) })
	}
}

func lateHTTP2HandoffIsNotLost(t *testing.T, http2 string) {
	f := newFixture(t)
	f.leaf(t, "site")
	cfg := siteConfig{HTTPS: loopback(t), Backend: backend(t, "old"), Cert: "site", HTTP2: http2}
	f.write(t, cfg)
	d := f.start(t)
	oldGen := d.cur.Load()
	raw, err := net.Dial("tcp", cfg.HTTPS)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); d.limiter.Open() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the accept loop did not take the connection")
		}
	}
	cfg.Backend = backend(t, "new")
	f.write(t, cfg)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	waitDraining(t, oldGen)
	if h2, ok := oldGen.servers["h2"].(*HTTPServer); ok {
		for deadline := time.Now().Add(5 * time.Second); !h2.ln.isClosed(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the replaced HTTP/2 server still takes connections")
			}
		}
	} else if _, ok := oldGen.servers["h2"].(*h2Server); !ok || http2 != "tlsfront" {
		t.Fatalf("server.http2 = %q is served by %T", http2, oldGen.servers["h2"])
	}

	tlsCfg := &tls.Config{ServerName: "localhost", RootCAs: f.ca.Pool(), NextProtos: []string{"h2"}}
	first := true
	tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: tlsCfg,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c := raw // the connection accepted before the reload, then fresh ones
			if !first {
				var err error
				if c, err = net.Dial(network, addr); err != nil {
					return nil, err
				}
			}
			first = false
			tc := tls.Client(c, tlsCfg)
			return tc, tc.HandshakeContext(ctx)
		}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + cfg.HTTPS + "/late-h2")
	if err != nil {
		t.Fatalf("the request of the connection handed over after the drain began: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "new /late-h2" {
		t.Errorf("answer %q, want the new backend's (the turned-away connection retried on a new one)", body)
	}
	if first {
		t.Error("the transport never dialed: the test proves nothing")
	}
}
