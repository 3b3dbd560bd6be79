package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestSSLHeaders: client-sent X-SSL-* and X-HTTPS headers never reach the
// backend; a site with SSLHeaders gets tlsfront's, made from the request's
// connection.
func TestSSLHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	for _, export := range []bool{false, true} {
		site := Site{Backend: u}
		if export {
			site.SSLHeaders = func(out http.Header, cs *tls.ConnectionState) {
				out.Set("X-SSL-Protocol", tls.VersionName(cs.Version))
				out.Set("X-HTTPS", "on")
			}
		}
		h, err := New(Options{Sites: []Site{site}, Route: route, Logger: zerolog.Nop(), DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		srv, client := serveTLS(t, h)
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.Host = "a.example"
		req.Header.Set("X-SSL-Client-S-DN", "CN=forged")
		req.Header.Set("X-SSL-Client-Verify", "SUCCESS")
		req.Header.Set("x-ssl-protocol", "SSLv2")
		req.Header.Set("X-HTTPS", "on")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		hdr := <-got
		for _, k := range []string{"X-Ssl-Client-S-Dn", "X-Ssl-Client-Verify"} {
			if v := hdr.Values(k); len(v) != 0 {
				t.Errorf("export %v: the backend got the client's %s: %q", export, k, v)
			}
		}
		wantProto, wantHTTPS := "", ""
		if export {
			wantProto, wantHTTPS = "TLS 1.3", "on"
		}
		if v := hdr.Values("X-SSL-Protocol"); len(v) > 1 || hdr.Get("X-SSL-Protocol") != wantProto {
			t.Errorf("export %v: X-SSL-Protocol %q, want %q", export, v, wantProto)
		}
		if v := hdr.Values("X-HTTPS"); len(v) > 1 || hdr.Get("X-HTTPS") != wantHTTPS {
			t.Errorf("export %v: X-HTTPS %q, want %q", export, v, wantHTTPS)
		}
		h.Close()
	}
}
