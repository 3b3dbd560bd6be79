package headers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/netip"
	"testing"
	"time"
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

// BenchmarkSSLVars: the variables and headers of one request on a
// connection with a client certificate and one intermediate.
func BenchmarkSSLVars(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := func(tmpl *x509.Certificate) *x509.Certificate {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		c, _ := x509.ParseCertificate(der)
		return c
	}
	leaf := mk(&x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Alice", Organization: []string{"Example"}, Country: []string{"DE"}},
		EmailAddresses: []string{"a@example.com"}})
	inter := mk(&x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "CA"}})
	cs := &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, ServerName: "a.example",
		PeerCertificates: []*x509.Certificate{leaf, inter}}
	now := time.Now()
	b.Run("per request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := http.Header{}
			SetSSLHeaders(h, SSLVars(cs, SSLVarsOptions{Verify: "SUCCESS", Now: now}))
		}
	})
	b.Run("certificate variables per connection", func(b *testing.B) {
		certVars := ClientCertVars(cs.PeerCertificates, false)
		b.ReportAllocs()
		for b.Loop() {
			h := http.Header{}
			SetSSLHeaders(h, SSLVars(cs, SSLVarsOptions{Verify: "SUCCESS", Now: now, CertVars: certVars}))
		}
	})
}
