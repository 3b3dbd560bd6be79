package integration

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"tlsfront/internal/itest"
)

// The HTTP/2 cases of issues 13 and 16 run against both HTTP/2 servers
// tlsfront can be told to use (server.http2): net/http's ("go") and its own
// ("tlsfront"). Each test that starts a front for one of them checks that
// the server answering "h2" is that one (requireH2Server), so a table over
// the two cannot silently test one twice.

// h2Servers are the values of server.http2 that serve HTTP/2.
var h2Servers = []string{"go", "tlsfront"}

// h2ServerOf tells which HTTP/2 server answers at addr by its first
// SETTINGS frame: net/http's announces SETTINGS_MAX_FRAME_SIZE (1 MiB, as
// proxy.NewServer configures it); tlsfront's reads frames of the default
// 16 KiB and announces none. "" when ALPN did not choose h2.
func h2ServerOf(t testing.TB, addr string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS("h2", "http/1.1"))
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	defer c.Close()
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		return ""
	}
	return itest.HTTP2Server(t, c)
}

// requireH2Server fails the test unless the HTTP/2 server at addr is want
// ("go", "tlsfront"; "off": ALPN does not choose h2).
func requireH2Server(t testing.TB, addr, want string) {
	t.Helper()
	got := h2ServerOf(t, addr)
	if got == "" {
		got = "off"
	}
	if got != want {
		t.Fatalf("server.http2 = %q, but the HTTP/2 server answering at %s is %q", want, addr, got)
	}
}

// leakCheck warms f up (one HTTP/2 request, so that what is made once
// exists), records its goroutines and open files, and returns the check to
// run after a suite: once f has settled, it holds no more than that, plus
// pooled idle backend connections (f's proxy.max_idle_conns: pooled) and
// their goroutines.
func leakCheck(t *testing.T, f *hostileFront, pooled int) func() {
	t.Helper()
	c := f.client(true)
	// Under the prefix of Apache's readiness probe, which the suites that
	// judge Apache's log leave out.
	if res, err := c.Get(f.url("/?itest-ready-leak-check")); err == nil {
		drainBody(res.Body)
		res.Body.Close()
	}
	c.CloseIdleConnections()
	g0, fd0 := settleCounts(t, f, -1, -1)
	return func() {
		t.Helper()
		if g, fds := settleCounts(t, f, g0+pooled, fd0+pooled); g > g0+pooled || fds > fd0+pooled {
			t.Errorf("after the suite tlsfront has %d goroutines and %d open files, before %d and %d (+%d pooled)", g, fds, g0, fd0, pooled)
		}
	}
}
