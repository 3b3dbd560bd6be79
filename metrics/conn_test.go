package metrics

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tlsfront/internal/itest"
	"tlsfront/internal/testca"
)

// The messages are the ones crypto/tls and net/http produced on this
// machine for the provoked failures (see TestHandshakeErrorLog), plus the
// alert texts of crypto/tls/alert.go.
func TestHandshakeFailureReason(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"PROXY protocol header from 10.0.0.2:4711: reading: read tcp 10.0.0.1:443->10.0.0.2:4711: i/o timeout", ReasonProxyProtocol},
		{"client sent an HTTP request to an HTTPS server", ReasonHTTPOnHTTPS},
		{"tls: first record does not look like a TLS handshake", ReasonNotTLS},
		{"tls: client offered only unsupported versions: [302 301]", ReasonProtocolVersion},
		{"tls: unsupported SSLv2 handshake received", ReasonProtocolVersion},
		{"tls: no cipher suite supported by both client and server; client offered: [c030]", ReasonNoSharedCipher},
		{"tls: no key exchanges supported by both client and server", ReasonNoSharedGroup},
		{"tls: peer doesn't support any of the certificate's signature algorithms", ReasonNoSharedSigalg},
		{"tls: missing signature_algorithms from TLS 1.2 peer", ReasonNoSharedSigalg},
		{"tls: client using inappropriate protocol fallback", ReasonInappropriateFallback},
		{`tls: client requested unsupported application protocols (["foo"])`, ReasonALPN},
		{"remote error: tls: bad certificate", ReasonCertificateRejected},
		{"remote error: tls: unknown certificate authority", ReasonCertificateRejected},
		{"remote error: tls: expired certificate", ReasonCertificateRejected},
		{"remote error: tls: bad certificate status response", ReasonCertificateRejected},
		{"remote error: tls: protocol version not supported", ReasonProtocolVersion},
		{"remote error: tls: handshake failure", ReasonClientAlert},
		{"read tcp 127.0.0.1:8443->127.0.0.1:35520: i/o timeout", ReasonTimeout},
		{"EOF", ReasonEOF},
		{"unexpected EOF", ReasonEOF},
		{"read tcp 127.0.0.1:8443->127.0.0.1:1: read: connection reset by peer", ReasonEOF},
		{"tls: client's Finished message is incorrect", ReasonOther},
		{"server.max_conns_per_client (2) reached for 203.0.113.7: connection closed", ReasonClientLimit},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			if got := HandshakeFailureReason(tc.msg); got != tc.want {
				t.Errorf("HandshakeFailureReason(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
}

// tlsServer is an HTTPS server on 127.0.0.1 whose http.Server handshakes
// itself, wired for the metrics: ConnState and the ErrorLog through HandshakeErrorLog.
func tlsServer(t *testing.T, m *Metrics, cfg *tls.Config, logged io.Writer) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.Config.ConnState = m.ConnState
	srv.Config.ErrorLog = log.New(m.HandshakeErrorLog(logged), "", 0)
	srv.Config.ReadHeaderTimeout = 2 * time.Second
	srv.TLS = cfg
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// eventually polls cond for up to 10s: the server sees closes asynchronously.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHandshakeErrorLog(t *testing.T) {
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}, KeyType: "rsa2048"})
	m := New(Options{})
	var logged itest.SyncBuffer
	srv := tlsServer(t, m, &tls.Config{
		Certificates: []tls.Certificate{leaf.TLS()},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	}, &logged)
	addr := srv.Listener.Addr().String()

	raw := func(b []byte) func() {
		return func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if b == nil {
				return // closed at once
			}
			_, _ = c.Write(b)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.Copy(io.Discard, c) // until the server closes
		}
	}
	client := func(cfg *tls.Config) func() {
		return func() {
			if c, err := tls.Dial("tcp", addr, cfg); err == nil {
				c.Close()
				t.Fatal("the handshake succeeded; the case provokes nothing")
			}
		}
	}
	for _, tc := range []struct {
		name   string
		do     func()
		reason string
	}{
		{"plain HTTP", raw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), ReasonHTTPOnHTTPS},
		{"not TLS", raw([]byte("\x00\x01\x02\x03\x04\x05\x06\x07")), ReasonNotTLS},
		{"SSLv2 hello", raw([]byte{0x80, 0x2e, 0x01, 0x00, 0x02, 0, 0x15, 0, 0, 0, 0x10}), ReasonProtocolVersion},
		{"closed before hello", raw(nil), ReasonEOF},
		{"TLS 1.1 client", client(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}), ReasonProtocolVersion},
		{"no shared suite", client(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}}), ReasonNoSharedCipher},
		{"client rejects the certificate", client(&tls.Config{ServerName: "localhost"}), ReasonCertificateRejected},
		{"no shared ALPN", client(&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"imap"}}), ReasonALPN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := value(scrape(t, m), "tlsfront_tls_handshake_failures_total", "reason="+tc.reason)
			tc.do()
			eventually(t, "no "+tc.reason+" failure counted; log:\n"+logged.String(), func() bool {
				return value(scrape(t, m), "tlsfront_tls_handshake_failures_total", "reason="+tc.reason) == before+1
			})
		})
	}
	if !strings.Contains(logged.String(), "http: TLS handshake error from 127.0.0.1:") {
		t.Errorf("the error log lines were not passed on:\n%s", logged.String())
	}
	if got := value(scrape(t, m), "tlsfront_tls_handshake_failures_total", "reason=other"); got != 0 {
		t.Errorf("%v failures classified as other; log:\n%s", got, logged.String())
	}
}

// TestConnState: handshakes are counted once per connection, over HTTP/1.1
// keep-alive, HTTP/2 and a connection closed without a request; the active
// gauge follows open connections back to zero.
func TestConnState(t *testing.T) {
	ca := testca.New(t)
	leaf := ca.Leaf(t, testca.LeafOptions{Names: []string{"localhost"}})
	m := New(Options{})
	srv := tlsServer(t, m, &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, NextProtos: []string{"h2", "http/1.1"}}, nil)
	addr := srv.Listener.Addr().String()
	active := func() float64 { return value(scrape(t, m), "tlsfront_connections_active", "") }
	handshakes := func(version string) float64 {
		return value(scrape(t, m), "tlsfront_tls_handshakes_total", "suite=TLS_AES_128_GCM_SHA256,version="+version)
	}

	for _, tc := range []struct {
		name      string
		protos    []string
		wantProto string
	}{
		{"HTTP/1.1 keep-alive", []string{"http/1.1"}, "HTTP/1.1"},
		{"HTTP/2", []string{"h2"}, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := handshakes("TLS 1.3")
			tr := &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", NextProtos: tc.protos,
					CipherSuites: nil, CurvePreferences: []tls.CurveID{tls.X25519}},
				ForceAttemptHTTP2: tc.wantProto == "HTTP/2.0",
			}
			if tc.wantProto == "HTTP/1.1" {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for range 3 {
				resp, err := c.Get("https://" + addr + "/")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != tc.wantProto {
					t.Fatalf("served over %q, want %q", body, tc.wantProto)
				}
			}
			if got := active(); got != 1 {
				t.Errorf("active connections with one keep-alive connection open: %v, want 1", got)
			}
			if got := handshakes("TLS 1.3"); got != before+1 {
				t.Errorf("3 requests on one connection counted %v handshakes, want 1", got-before)
			}
			tr.CloseIdleConnections()
			eventually(t, "active connections did not return to 0", func() bool { return active() == 0 })
			if got := handshakes("TLS 1.3"); got != before+1 {
				t.Errorf("after close: %v handshakes counted, want 1", got-before)
			}
		})
	}

	t.Run("closed without a request", func(t *testing.T) {
		before := handshakes("TLS 1.2")
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		eventually(t, "the handshake of a connection without requests was not counted", func() bool {
			return value(scrape(t, m), "tlsfront_tls_handshakes_total",
				"suite=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,version=TLS 1.2") == before+1
		})
		eventually(t, "active connections did not return to 0", func() bool { return active() == 0 })
	})
}
