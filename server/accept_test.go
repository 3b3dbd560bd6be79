package server

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSocketActivation: sockets passed by name are served, and wrong names
// are refused before anything listens.
func TestSocketActivation(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	https, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The configured addresses are not used: the sockets come from systemd.
	f.write(t, siteConfig{HTTPS: "127.0.0.1:1", HTTP: "127.0.0.1:2", Backend: backend(t, "b"), Cert: "site"})

	if _, err := Start(Options{ConfigPath: f.path, Stderr: f.logs, Listeners: map[string][]net.Listener{"web": {https}}}); err == nil ||
		!strings.Contains(err.Error(), `sockets named [web]`) {
		t.Errorf("Start with a socket named web: %v, want a refusal naming it", err)
	}
	d, err := Start(Options{ConfigPath: f.path, Stderr: f.logs, Listeners: map[string][]net.Listener{"https": {https}, "http": {plain}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Shutdown)
	if body, _ := fetch(t, https.Addr().String(), "/a", f.ca.Pool()); body != "b /a" {
		t.Errorf("GET on the activated https socket: %q", body)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 5 * time.Second}).Get("http://" + plain.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("the activated http socket answered %d, want 301", resp.StatusCode)
	}
	// A reload keeps the activated sockets, whatever the file says.
	f.write(t, siteConfig{HTTPS: "127.0.0.1:3", Backend: backend(t, "c"), Cert: "site"})
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if body, _ := fetch(t, https.Addr().String(), "/a", f.ca.Pool()); body != "c /a" {
		t.Errorf("after a reload, GET on the activated socket: %q", body)
	}
}

// TestProxyProtocolFollowsReload: server.proxy_protocol is the
// Generation's, read at accept: switching it on by reload makes a trusted
// peer's PROXY header its client address, for new connections.
func TestProxyProtocolFollowsReload(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	seen := make(chan string, 4)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("X-Forwarded-For")
	}))
	defer be.Close()
	cfg := siteConfig{HTTPS: loopback(t), Backend: be.URL, Cert: "site"}
	f.write(t, cfg)
	d := f.start(t)

	header := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), 0x21, 0x11, 0, 12, 192, 0, 2, 7, 127, 0, 0, 1)
	header = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(header, 4242), 443)
	get := func(withHeader bool) (string, error) {
		raw, err := net.DialTimeout("tcp", cfg.HTTPS, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		if withHeader {
			raw.Write(header)
		}
		c := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: f.ca.Pool(), NextProtos: []string{"http/1.1"}})
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return <-seen, nil
	}
	if xff, err := get(false); err != nil || xff != "127.0.0.1" {
		t.Fatalf("without PROXY protocol: X-Forwarded-For %q (%v), want 127.0.0.1", xff, err)
	}
	src := strings.Replace(cfg.String(), "[server]\n", "[server]\nproxy_protocol = true\n", 1)
	src = strings.Replace(src, "[log]\n", "[headers]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[log]\n", 1)
	if err := os.WriteFile(f.path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if xff, err := get(true); err != nil || xff != "192.0.2.7" {
		t.Errorf("with PROXY protocol from a trusted peer: X-Forwarded-For %q (%v), want the header's 192.0.2.7", xff, err)
	}
	if _, err := get(false); err == nil {
		t.Error("a trusted peer without a PROXY header was served")
	}
}

// TestPlainHTTPOnHTTPS keeps net/http's answer to a plain HTTP request on
// the TLS port, and its count in the handshake failure metric.
func TestPlainHTTPOnHTTPS(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	cfg := siteConfig{HTTPS: loopback(t), Backend: backend(t, "b"), Cert: "site"}
	f.write(t, cfg)
	d := f.start(t)
	c, err := net.DialTimeout("tcp", cfg.HTTPS, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.0 400 Bad Request\r\n") || !strings.Contains(string(got), "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP on the TLS port got %q", got)
	}
	rec := httptest.NewRecorder()
	d.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `tlsfront_tls_handshake_failures_total{reason="http_on_https"} 1`) {
		t.Errorf("the failure is not counted as http_on_https:\n%s", rec.Body.String())
	}
}

// TestShutdownDrains: at shutdown a request in flight finishes with its
// answer, and the listener stops accepting.
func TestShutdownDrains(t *testing.T) {
	f := newFixture(t)
	f.leaf(t, "site")
	started, release := make(chan struct{}), make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	}))
	defer be.Close()
	cfg := siteConfig{HTTPS: loopback(t), Backend: be.URL, Cert: "site"}
	f.write(t, cfg)
	d, err := Start(Options{ConfigPath: f.path, Stderr: f.logs})
	if err != nil {
		t.Fatal(err)
	}
	k := dial1(t, cfg.HTTPS, f.ca.Pool())
	answer := make(chan string, 1)
	go func() {
		k.c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(k.c, "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
		resp, err := http.ReadResponse(k.r, nil)
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-started
	stopped := make(chan struct{})
	go func() { d.Shutdown(); close(stopped) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", cfg.HTTPS)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 5s into the shutdown")
		}
	}
	select {
	case <-stopped:
		t.Fatal("Shutdown returned with a request in flight")
	default:
	}
	close(release)
	if got := <-answer; got != "finished" {
		t.Errorf("the request in flight at shutdown got %q, want its answer", got)
	}
	<-stopped
}
