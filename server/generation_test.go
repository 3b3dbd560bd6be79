package server

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"
)

// TestConnectionKeepsItsGeneration is issue 14's proof: a reload changes
// both the certificate and the backend, mid-connection. Every connection
// opened before it (HTTP/1.1 and HTTP/2 kept alive, and one accepted but
// not yet handshaken) keeps the old pair for its handshake and all its
// requests; every connection opened after gets the new pair; the old
// Generation is closed once its last connection has closed.
func TestConnectionKeepsItsGeneration(t *testing.T) {
	f := newFixture(t)
	oldLeaf := f.leaf(t, "site")
	cfg := siteConfig{HTTPS: loopback(t), Backend: backend(t, "old"), Cert: "site"}
	f.write(t, cfg)
	d := f.start(t)
	roots := f.ca.Pool()
	oldSerial := oldLeaf.Cert().SerialNumber.String()
	oldGen := d.cur.Load()

	h1 := dial1(t, cfg.HTTPS, roots)
	if got := h1.get(t, "/h1-before"); got != "old /h1-before" || h1.serial() != oldSerial {
		t.Fatalf("before the reload: %q with certificate %s, want the old backend and %s", got, h1.serial(), oldSerial)
	}
	h2t := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: roots}, ForceAttemptHTTP2: true}
	defer h2t.CloseIdleConnections()
	h2 := &http.Client{Transport: h2t, Timeout: 10 * time.Second}
	var h2conn net.Conn
	h2get := func(path string) (string, string) {
		t.Helper()
		var got net.Conn
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { got = i.Conn }}
		req, _ := http.NewRequest("GET", "https://"+cfg.HTTPS+path, nil)
		req.Host = "localhost"
		resp, err := h2.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatalf("HTTP/2 GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("GET %s over %s, want HTTP/2", path, resp.Proto)
		}
		if h2conn == nil {
			h2conn = got
		} else if got != h2conn {
			t.Fatalf("GET %s used a new HTTP/2 connection: the test needs one kept alive", path)
		}
		return string(body), resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	if body, serial := h2get("/h2-before"); body != "old /h2-before" || serial != oldSerial {
		t.Fatalf("HTTP/2 before the reload: %q, certificate %s", body, serial)
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

	for _, path := range []string{"/h1-after-1", "/h1-after-2"} {
		if got := h1.get(t, path); got != "old "+path {
			t.Errorf("HTTP/1.1 connection from before the reload: GET %s = %q, want the old backend", path, got)
		}
	}
	if body, _ := h2get("/h2-after"); body != "old /h2-after" {
		t.Errorf("HTTP/2 connection from before the reload: %q, want the old backend", body)
	}
	late := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err := late.Handshake(); err != nil {
		t.Fatalf("handshake of the connection accepted before the reload: %v", err)
	}
	lk := &client1{c: late, r: newReader(late)}
	if got := lk.get(t, "/late"); got != "old /late" || lk.serial() != oldSerial {
		t.Errorf("connection accepted before the reload, handshaken after: %q with certificate %s, want the old backend and %s",
			got, lk.serial(), oldSerial)
	}

	if body, serial := fetch(t, cfg.HTTPS, "/fresh", roots); body != "new /fresh" || serial != newSerial {
		t.Errorf("a connection opened after the reload: %q with certificate %s, want the new backend and %s", body, serial, newSerial)
	}

	select {
	case <-oldGen.done:
		t.Fatal("the old generation was closed while connections still use it")
	default:
	}
	h1.c.Close()
	late.Close()
	h2t.CloseIdleConnections()
	waitClosed(t, oldGen, "after its last connection closed")
}
