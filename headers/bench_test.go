package headers

import (
	"net/http"
	"net/netip"
	"testing"
)

// A typical legacy-Apache response: a mod_dir redirect, a PHP session cookie
// and a tracking cookie, and a version banner.
func BenchmarkRewriteResponseAndSecureCookies(b *testing.B) {
	r := Redirect{Host: "example.com", BackendHosts: []string{"127.0.0.1:8080"}}
	b.ReportAllocs()
	for b.Loop() {
		h := http.Header{
			"Location":     {"http://example.com/dir/"},
			"Set-Cookie":   {"PHPSESSID=0123456789abcdef; path=/; HttpOnly", "tracking=1; Secure; Path=/"},
			"Server":       {"Apache/2.2.22 (Debian) PHP/5.4.45"},
			"X-Powered-By": {"PHP/5.4.45"},
			"Content-Type": {"text/html"},
		}
		RewriteResponse(h, r)
		SecureCookies(h)
		HideBackendVersion(h)
	}
}

// The common case: nothing to rewrite.
func BenchmarkRewriteResponseUnchanged(b *testing.B) {
	r := Redirect{Host: "example.com", BackendHosts: []string{"127.0.0.1:8080"}}
	h := http.Header{"Content-Type": {"text/html"}, "Set-Cookie": {"a=b; Secure"}, "Location": {"/relative"}}
	b.ReportAllocs()
	for b.Loop() {
		RewriteResponse(h, r)
		SecureCookies(h)
	}
}

func BenchmarkSetForwarded(b *testing.B) {
	untrusted := Forward{ClientIP: netip.MustParseAddr("192.0.2.7"), Host: "example.com", Proto: "https"}
	trusted := Forward{ClientIP: netip.MustParseAddr("10.0.0.5"), Host: "example.com", Proto: "https", TrustedPeer: true}
	cases := []struct {
		name string
		f    Forward
		in   func() http.Header
	}{
		{"untrusted", untrusted, func() http.Header {
			return http.Header{"Accept": {"*/*"}, "User-Agent": {"curl/8"}, "X-Forwarded-For": {"6.6.6.6"}}
		}},
		{"trusted chain", trusted, func() http.Header {
			return http.Header{"Accept": {"*/*"}, "X-Forwarded-For": {"203.0.113.9, 198.51.100.2"},
				"Forwarded": {"for=203.0.113.9;proto=https, for=198.51.100.2"}}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				h := c.in()
				b.StartTimer()
				SetForwarded(h, c.f)
			}
		})
	}
}
