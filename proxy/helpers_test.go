package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"tlsfront/internal/testca"
)

const hsts = "max-age=63072000; includeSubDomains; preload"

// route maps a.example to site 0 and b.example to site 1.
func route(name string) (int, bool) {
	switch name {
	case "a.example":
		return 0, true
	case "b.example":
		return 1, true
	}
	return 0, false
}

func newHandler(t testing.TB, backends ...string) *Handler {
	t.Helper()
	var sites []Site
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, Site{Name: []string{"a.example", "b.example", "c.example"}[i], Backend: u})
	}
	h, err := New(Options{Sites: sites, Route: route, HSTS: hsts, MaxIdleConns: 4,
		DialTimeout: 2 * time.Second, ResponseHeaderTimeout: 300 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// testServer is a Handler served as tlsfront serves it: TLS, HTTP/1.1 by
// the H1 engine, HTTP/2 by net/http's server.
type testServer struct {
	URL      string
	Listener net.Listener
	srv      *TLSServer
}

// Client returns a client speaking HTTP/2 (and HTTP/1.1 when forced).
func (s *testServer) Client() *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr}
}

var testCA struct {
	once sync.Once
	cert tls.Certificate
}

func testCert(t testing.TB) tls.Certificate {
	testCA.once.Do(func() {
		ca := testca.New(t)
		testCA.cert = ca.Leaf(t, testca.LeafOptions{Names: []string{"a.example", "b.example", "127.0.0.1"}}).TLS()
	})
	return testCA.cert
}

// ownH2 makes serveTLS serve HTTP/2 with tlsfront's own server (H2Server
// and Handler.ServeH2) instead of net/http's: TLSFRONT_TEST_H2=own, or
// TestOwnH2, which runs the proxy's HTTP/2 tests that way.
var ownH2 = os.Getenv("TLSFRONT_TEST_H2") == "own"

// serveTLS serves h on 127.0.0.1 and returns the server and an HTTP/2
// client for it.
func serveTLS(t testing.TB, h *Handler) (*testServer, *http.Client) {
	t.Helper()
	return serveTLSWith(t, h, ServerOptions{Logger: zerolog.Nop()})
}

func serveTLSWith(t testing.TB, h *Handler, o ServerOptions) (*testServer, *http.Client) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &TLSServer{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: []string{"h2", "http/1.1"}},
		H1: NewH1(H1Options{Server: h, ReadHeaderTimeout: o.ReadHeaderTimeout, IdleTimeout: o.IdleTimeout,
			MaxHeaderBytes: o.MaxHeaderBytes, Logger: zerolog.Nop()}),
		Trusted: h.opts.Trusted,
	}
	if ownH2 {
		s.H2Own = NewH2Server(h, H2Options{MaxConcurrentStreams: o.MaxConcurrentStreams, MaxHeaderBytes: o.MaxHeaderBytes,
			ReadHeaderTimeout: o.ReadHeaderTimeout, IdleTimeout: o.IdleTimeout,
			SendTimeout: h.limits.SendTimeout, BodyTimeout: h.limits.ClientBodyTimeout, Logger: zerolog.Nop()})
	} else {
		s.H2 = NewServer(h, o)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	ts := &testServer{URL: "https://" + ln.Addr().String(), Listener: ln, srv: s}
	return ts, ts.Client()
}

// verifyNoLeaks checks, after every other clean-up of the test, that no
// goroutine it started is left.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// closedByPeer reports whether the server closed c within 5 s.
func closedByPeer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}
