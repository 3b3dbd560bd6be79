package proxy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"tlsfront/internal/itest"
)

// TestH2Spec runs h2spec (github.com/summerwind/h2spec v2.2.1, strict mode:
// every case) against the server proxying to a Go backend: no case may
// fail. (Go's own server fails 4 of them, nginx 1.22 fails 25.)
func TestH2Spec(t *testing.T) {
	verifyNoLeaksH2(t)
	hs := startH2(t, newTransportHandler(t, h2Backend(t).URL), H2Options{})
	_, port, _ := net.SplitHostPort(hs.addr)
	r, out := itest.H2Spec(t, port, 5)
	t.Logf("h2spec: %s", r.Line)
	if testing.Verbose() {
		t.Logf("%s", out)
	}
	if r.Failed > 0 || r.Total < 146 {
		t.Fatalf("h2spec: %s\n%s", r.Line, itest.H2SpecFailures(out))
	}
	if r.Skipped > 0 {
		t.Logf("skipped:\n%s", itest.H2SpecFailures(out))
	}
}

// TestH2SpecCanFail runs h2spec's connection-specific header cases against
// Go's own HTTP/2 server, which accepts such headers: the summary parser
// must see the failures, or TestH2Spec could not fail either.
func TestH2SpecCanFail(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	r, out := itest.H2Spec(t, port, 2, "http2/8.1.2.2")
	if r.Failed == 0 {
		t.Fatalf("h2spec found no failure in Go's server, which accepts connection-specific headers:\n%s", out)
	}
}
